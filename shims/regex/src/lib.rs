//! `regex` for hull's build is the regex-lite engine (from the same rust-lang project, same
//! API for what is used here). oci-spec's runtime types use one regex, to validate
//! `process.execCPUAffinity`; the full `regex` crate (Unicode tables, several engines) added
//! about 0.5 MB to a binary whose budget is 3 MB. Patched in by the workspace's
//! `[patch.crates-io]`; nothing else in the dependency tree uses regex.

pub use regex_lite::*;
