//! One file per subcommand, each thin: load what it needs, call into `container`.

pub mod create;
pub mod delete;
pub mod events;
pub mod features;
pub mod kill;
pub mod list;
pub mod ps;
pub mod run;
pub mod spec;
pub mod start;
pub mod state;
pub mod update;
