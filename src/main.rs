//! hull: a low-level OCI container runtime with runc's command line.

mod cli;
mod commands;
mod container;
mod criu;
#[cfg(feature = "docs")]
mod docs;
mod error;
mod exe_guard;
mod foreground;
#[cfg(test)]
mod fuzz;
mod hooks;
mod launch;
mod logging;
mod lsm;
mod namespaces;
mod proc;
mod rootfs;
mod rootless;
mod signal;
mod spec;
mod terminal;
mod timefmt;
mod user;

use cli::{Cli, Command, LogFormat};
use container::Store;
use error::Result;

fn dispatch(cli: &Cli) -> Result<i32> {
    let keeps_state = !matches!(cli.command, Command::Spec(_) | Command::Features);
    let store = Store::new(&rootless::state_root(cli.root.as_deref(), keeps_state)?)?;
    match &cli.command {
        Command::Spec(a) => commands::spec::run(a),
        Command::Create(a) => commands::create::run(&store, a, cli.cgroup_driver()?),
        Command::Start(a) => commands::start::run(&store, &a.id),
        Command::Run(a) => commands::run::run(&store, a, cli.cgroup_driver()?),
        Command::State(a) => commands::state::run(&store, &a.id),
        Command::List(a) => commands::list::run(&store, a, cli.root.is_some()),
        Command::Kill(a) => commands::kill::run(&store, a),
        Command::Delete(a) => commands::delete::run(&store, a),
        Command::Exec(a) => container::exec::exec(&store, a),
        Command::Pause(a) => container::lifecycle::pause(&store, &a.id, true).map(|_| 0),
        Command::Resume(a) => container::lifecycle::pause(&store, &a.id, false).map(|_| 0),
        Command::Ps(a) => commands::ps::run(&store, a),
        Command::Events(a) => commands::events::run(&store, a),
        Command::Update(a) => commands::update::run(&store, a),
        Command::Features => commands::features::run(),
        Command::Checkpoint(a) => criu::dump::checkpoint(&store, a, &cli.criu_path()).map(|_| 0),
        Command::Restore(a) => {
            criu::restore::restore(&store, a, cli.cgroup_driver()?, &cli.criu_path())
        }
    }
}

/// The subcommand, found without clap: the first argument that is neither a global flag
/// nor a global flag's value (hull's global flags come before the subcommand, as runc's).
fn subcommand(args: &[std::ffi::OsString]) -> Option<&str> {
    const WITH_VALUE: [&str; 5] = ["--root", "--log", "--log-format", "--rootless", "--criu"];
    let mut rest = args.iter().skip(1);
    while let Some(a) = rest.next() {
        let a = a.to_str()?;
        if !a.starts_with('-') {
            return Some(a);
        }
        if WITH_VALUE.contains(&a) {
            rest.next();
        }
    }
    None
}

fn main() {
    // The exe guard first: the process that re-executes itself does no more than this.
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    #[cfg(feature = "docs")]
    if args.get(1).is_some_and(|a| a == "--generate-docs") {
        let out = args.get(2).map_or(".".into(), std::path::PathBuf::from);
        if let Err(e) = docs::generate(&out) {
            eprintln!("hull: {e}");
            std::process::exit(1);
        }
        return;
    }
    let guard = match subcommand(&args) {
        Some("create" | "run" | "exec") => exe_guard::reexec_readonly().err(),
        _ => None,
    };
    let cli = match cli::parse(&args) {
        Ok(c) => c,
        Err(e) if e.kind() == clap::error::ErrorKind::InvalidSubcommand => {
            // runc's (urfave/cli's) answer to a command it does not know.
            let name = subcommand(&args).unwrap_or_default();
            eprintln!("hull: No help topic for '{name}'");
            std::process::exit(1);
        }
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    drop(args);
    if let Err(e) = logging::init(
        cli.log.as_deref(),
        cli.log_format == LogFormat::Json,
        cli.debug,
    ) {
        eprintln!("hull: open log file: {e}");
        std::process::exit(1);
    }
    if let Some(why) = guard {
        logging::debug(&format!("running from the binary's own mount: {why}"));
    }
    logging::debug(&format!("{:?}", std::env::args().collect::<Vec<_>>()));
    match dispatch(&cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            // One line whatever a message quotes (podman reads one JSON object per line).
            let msg = error::one_line(&e.to_string());
            // runc names the verb that failed for run and create ("runc run failed: ..."),
            // which scripts and tests grep; other verbs print the error after our name.
            let verb = match &cli.command {
                Command::Run(_) => Some("run"),
                Command::Create(_) => Some("create"),
                _ => None,
            };
            let line = match verb {
                Some(verb) => {
                    let name = cli::program_name(std::env::args_os().next().as_deref());
                    format!("{name} {verb} failed: {msg}")
                }
                None => msg,
            };
            logging::error(&line);
            match verb {
                Some(_) => eprintln!("{line}"),
                None => eprintln!("hull: {line}"),
            }
            // runc's exit code for a failed exec, which shims tell apart from the process's.
            let code = if matches!(cli.command, Command::Exec(_)) {
                255
            } else {
                1
            };
            std::process::exit(code);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::subcommand;

    #[test]
    fn the_subcommand_is_found_past_global_flags() {
        let of = |args: &[&str]| {
            let a: Vec<std::ffi::OsString> = args.iter().map(|s| s.into()).collect();
            subcommand(&a).map(str::to_string)
        };
        assert_eq!(of(&["hull", "run", "x"]).as_deref(), Some("run"));
        assert_eq!(
            of(&["hull", "--root", "/r", "--log", "l", "--debug", "exec", "x"]).as_deref(),
            Some("exec")
        );
        assert_eq!(
            of(&["hull", "--log-format=json", "--systemd-cgroup", "create"]).as_deref(),
            Some("create")
        );
        assert_eq!(
            of(&["hull", "--rootless", "true", "--criu", "c", "state"]).as_deref(),
            Some("state")
        );
        assert_eq!(of(&["hull", "--version"]), None);
    }
}
