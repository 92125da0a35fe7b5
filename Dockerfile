# gemini-gateway in a container: a release build, then a slim Debian runtime that runs the one
# binary as a non-root user. Settings come from the environment, or from `.env` and
# `gemini-gateway.toml` in /etc/gemini-gateway (mount a folder there; `kill -HUP` reloads them).
# The embedded state lives on the /var/lib/gemini-gateway volume.
#
#   docker build -t gemini-gateway .
#   docker run -p 8082:8082 -e GEMINI_API_KEY=... -e GATEWAY_API_KEYS=... gemini-gateway
#
# Both base images can be replaced (a mirror, a bootstrapped Debian): --build-arg RUST_IMAGE=...
# With buildah or podman, build with --format docker: the OCI format has no HEALTHCHECK.
ARG RUST_IMAGE=rust:1-slim-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY link ./link
COPY mock-gemini ./mock-gemini
COPY src ./src
# The target folder is a cache between builds, so the binary is copied out in the same step.
# Built with the release profile as it is (its settings are part of every symbol's name, which
# link/hot-functions.txt lists: see build.rs), then stripped: the image's binary is for
# running, not for profiling.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin gemini-gateway \
    && install -D -m 0755 target/release/gemini-gateway /out/gemini-gateway \
    && strip /out/gemini-gateway

FROM ${RUNTIME_IMAGE}
RUN useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin gateway \
    && install -d -o gateway -g gateway -m 0750 /var/lib/gemini-gateway \
    && install -d -m 0755 /etc/gemini-gateway
COPY --from=build /out/gemini-gateway /usr/local/bin/gemini-gateway
# HOST=0.0.0.0 needs client keys (GATEWAY_API_KEYS or [[clients]]): the gateway refuses to
# start open to the network unless ALLOW_UNAUTHENTICATED=true.
ENV HOST=0.0.0.0 \
    PORT=8082 \
    STATE_PATH=/var/lib/gemini-gateway/state
WORKDIR /etc/gemini-gateway
VOLUME ["/var/lib/gemini-gateway"]
USER gateway:gateway
EXPOSE 8082
HEALTHCHECK --interval=15s --timeout=5s --start-period=5s --retries=3 \
    CMD ["gemini-gateway", "health"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["gemini-gateway"]
CMD ["serve"]
