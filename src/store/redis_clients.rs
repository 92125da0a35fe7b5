//! Client request windows on the shared store, so a client's `requests_per_minute` holds across
//! every gateway on one Redis: one counter per client and wall-clock minute
//! (`{P}:client-minute:<name>:<minute>`), taken only while under the limit, kept two minutes.

use super::redis::RedisStore;
use super::{RedisOp, StoreError};

/// Takes one request of the minute's window when fewer than `limit` were taken; 1 or 0.
const TAKE: &str = r"
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n >= tonumber(ARGV[1]) then return 0 end
redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], 120000)
return 1
";

impl RedisStore {
    /// Whether client `name` may send one more request in the minute `minute` (Unix minutes).
    pub async fn take_client_request(
        &self,
        name: &str,
        minute: i64,
        limit: u32,
    ) -> Result<bool, StoreError> {
        let key = format!("{}{name}:{minute}", self.names.client_minute);
        let script = ::redis::Script::new(TAKE);
        let (key, script) = (&key, &script);
        let taken: i64 = self
            .run(RedisOp::ClientWindow, move |mut c| async move {
                script.key(key).arg(limit).invoke_async(&mut c).await
            })
            .await?;
        Ok(taken == 1)
    }
}
