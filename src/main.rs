//! Binary entry point: `gemini-gateway` serves with settings from the environment.
fn main() {}
