//! The command line: runc's global flags and subcommands, same names and defaults.

use std::path::PathBuf;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

/// Where state lives without `--root`.
pub const DEFAULT_ROOT: &str = "/run/hull";

#[derive(Parser, Debug)]
#[command(
    name = "hull",
    about = "Open Container Initiative runtime",
    long_about = "Open Container Initiative runtime\n\n\
        A low-level container runtime with runc's command line: it creates and runs \
        containers from OCI bundles (a config.json and a root filesystem)."
)]
pub struct Cli {
    /// Root directory for the state of containers [default: /run/hull, or
    /// $XDG_RUNTIME_DIR/hull for rootless containers]
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Write log messages to FILE (default: stderr)
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Log format
    #[arg(long = "log-format", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Enable debug logging
    #[arg(long)]
    pub debug: bool,
    /// Use systemd to manage cgroups
    #[arg(long = "systemd-cgroup")]
    pub systemd_cgroup: bool,
    /// Rootless mode: true, false or auto
    #[arg(long, value_name = "VALUE", default_value = "auto")]
    pub rootless: String,
    /// Path to the criu binary
    #[arg(long, value_name = "PATH")]
    pub criu: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

/// How the container's cgroup is made: by systemd (`--systemd-cgroup`) or in cgroupfs;
/// `rootless`: hierarchies the caller may not write to are left out (see `--rootless`).
#[derive(Clone, Copy, Debug, Default)]
pub struct CgroupDriver {
    pub systemd: bool,
    pub rootless: bool,
}

impl Cli {
    pub fn cgroup_driver(&self) -> crate::error::Result<CgroupDriver> {
        Ok(CgroupDriver {
            systemd: self.systemd_cgroup,
            rootless: crate::rootless::rootless_cgroups(&self.rootless, self.systemd_cgroup)?,
        })
    }
}

/// runc's help layout (urfave/cli): a `NAME:` line, then `<program> - <about>` (or
/// `<program> <command> - <about>`); scripts and runc's suite read those two lines.
fn help_template(title: &str) -> String {
    format!("NAME:\n   {title} - {{about}}\n\nUSAGE:\n   {{usage}}\n\n{{all-args}}\n")
}

/// `-v`/`--version`, as runc prints it: `<program> version X`, `commit:`, `spec:`.
fn version_text() -> String {
    format!(
        "version {}\ncommit: {}\nspec: {}",
        env!("CARGO_PKG_VERSION"),
        option_env!("HULL_COMMIT").unwrap_or("unknown"),
        crate::container::OCI_VERSION
    )
}

/// The binary's own name: installed as `runc` (a drop-in), hull calls itself runc in help
/// and version text, as a renamed urfave/cli program does.
pub fn program_name(argv0: Option<&std::ffi::OsStr>) -> String {
    argv0
        .and_then(|a| std::path::Path::new(a).file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("hull")
        .to_string()
}

impl Cli {
    /// `--criu`, else `criu` from PATH.
    pub fn criu_path(&self) -> PathBuf {
        self.criu.clone().unwrap_or_else(|| PathBuf::from("criu"))
    }
}

/// runc's parser takes a long option with one dash too (`-no-subreaper`, as containerd
/// sends it): such an argument of a subcommand, before its first operand, becomes the
/// long option it names. Anything else (short flags, operands, the process's own
/// arguments) is left as it is.
fn long_with_one_dash(cmd: &clap::Command, args: &[std::ffi::OsString]) -> Vec<std::ffi::OsString> {
    let mut out: Vec<std::ffi::OsString> = args.to_vec();
    let Some(pos) = args
        .iter()
        .skip(1)
        .position(|a| a.to_str().is_some_and(|a| cmd.find_subcommand(a).is_some()))
    else {
        return out;
    };
    let sub = cmd
        .find_subcommand(args[pos + 1].to_str().unwrap_or_default())
        .expect("found above");
    for a in out.iter_mut().skip(pos + 2) {
        let Some(s) = a.to_str() else { break };
        if !s.starts_with('-') || s == "--" {
            break;
        }
        let name = s[1..].split('=').next().unwrap_or_default();
        if s.starts_with("--") || name.chars().count() < 2 {
            continue;
        }
        if sub.get_arguments().any(|x| x.get_long() == Some(name)) {
            *a = format!("-{s}").into();
        }
    }
    out
}

/// Parses `args` (argv[0] included) with runc's help layout and `-v`.
pub fn parse(args: &[std::ffi::OsString]) -> Result<Cli, clap::Error> {
    let name = program_name(args.first().map(|a| a.as_os_str()));
    let cmd = command(&name);
    let args = long_with_one_dash(&cmd, args);
    let matches = cmd.try_get_matches_from(args)?;
    Cli::from_arg_matches(&matches)
}

/// The command line as the binary `name` presents it (also what the man pages and
/// completions are made from).
pub fn command(name: &str) -> clap::Command {
    let name = name.to_string();
    let mut cmd = Cli::command()
        .name(name.clone())
        .bin_name(name.clone())
        .version(version_text())
        .disable_version_flag(true)
        .arg(
            clap::Arg::new("version")
                .short('v')
                .long("version")
                .action(clap::ArgAction::Version)
                .help("Print the version"),
        )
        .help_template(help_template(&name));
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    for sub in names {
        let template = help_template(&format!("{name} {sub}"));
        cmd = cmd.mut_subcommand(sub, |c| c.help_template(template));
    }
    cmd
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a new specification file (config.json)
    Spec(SpecArgs),
    /// Create a container
    Create(CreateArgs),
    /// Start a created container
    Start(IdArg),
    /// Create and start a container
    Run(RunArgs),
    /// Output the state of a container
    State(IdArg),
    /// List containers started by hull with the given root
    #[command(visible_alias = "ls")]
    List(ListArgs),
    /// Send a signal to the container's init process
    Kill(KillArgs),
    /// Delete any resources held by the container
    Delete(DeleteArgs),
    /// Execute a new process inside the container
    Exec(Box<ExecArgs>),
    /// Suspend all processes of the container (cgroup freezer)
    Pause(IdArg),
    /// Resume all processes of a paused container
    Resume(IdArg),
    /// List the processes running inside a container
    Ps(PsArgs),
    /// Display container events: OOM notices and resource usage statistics
    Events(EventsArgs),
    /// Update the resource limits of a running container
    Update(Box<UpdateArgs>),
    /// Show the enabled features (JSON, as the runtime spec's features.md)
    Features,
    /// Checkpoint a running container (with CRIU)
    Checkpoint(Box<CheckpointArgs>),
    /// Restore a container from a previous checkpoint (with CRIU)
    Restore(Box<RestoreArgs>),
}

/// Options that `checkpoint` and `restore` share.
#[derive(Args, Debug)]
pub struct CriuArgs {
    /// Path to the CRIU image files (default: ./checkpoint)
    #[arg(long = "image-path", value_name = "DIR")]
    pub image_path: Option<PathBuf>,
    /// Path for CRIU's work files and logs (default: the image path)
    #[arg(long = "work-path", value_name = "DIR")]
    pub work_path: Option<PathBuf>,
    /// Allow open TCP connections
    #[arg(long = "tcp-established")]
    pub tcp_established: bool,
    /// Allow external unix sockets
    #[arg(long = "ext-unix-sk")]
    pub ext_unix_sk: bool,
    /// Allow shell jobs
    #[arg(long = "shell-job")]
    pub shell_job: bool,
    /// Handle file locks
    #[arg(long = "file-locks")]
    pub file_locks: bool,
    /// Cgroups mode: soft|full|strict|ignore (default: soft)
    #[arg(long = "manage-cgroups-mode", value_name = "MODE")]
    pub manage_cgroups_mode: Option<String>,
    /// Create a namespace, but do not restore its properties (network)
    #[arg(long = "empty-ns", value_name = "NS")]
    pub empty_ns: Vec<String>,
    /// Enable auto deduplication of memory images
    #[arg(long = "auto-dedup")]
    pub auto_dedup: bool,
    /// Use userfaultfd to restore memory pages lazily
    #[arg(long = "lazy-pages")]
    pub lazy_pages: bool,
}

#[derive(Args, Debug)]
pub struct CheckpointArgs {
    /// Container id
    pub id: String,
    #[command(flatten)]
    pub criu: CriuArgs,
    /// Path of the previous (pre-dump) images, relative to the image path
    #[arg(long = "parent-path", value_name = "DIR")]
    pub parent_path: Option<PathBuf>,
    /// Leave the processes running after the checkpoint
    #[arg(long = "leave-running")]
    pub leave_running: bool,
    /// Skip in-flight TCP connections
    #[arg(long = "tcp-skip-in-flight")]
    pub tcp_skip_in_flight: bool,
    /// Link unlinked files back when possible
    #[arg(long = "link-remap")]
    pub link_remap: bool,
    /// CRIU writes \0 to this fd once lazy pages are ready
    #[arg(long = "status-fd", value_name = "FD", default_value_t = -1, allow_hyphen_values = true)]
    pub status_fd: i32,
    /// ADDRESS:PORT of the page server
    #[arg(long = "page-server", value_name = "ADDRESS:PORT")]
    pub page_server: Option<String>,
    /// Dump the memory only and leave the container running
    #[arg(long = "pre-dump")]
    pub pre_dump: bool,
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// Container id
    pub id: String,
    #[command(flatten)]
    pub criu: CriuArgs,
    /// Path to the root of the bundle directory
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// Path to an AF_UNIX socket that receives the console's pseudoterminal master
    #[arg(long = "console-socket", value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Detach from the container's process
    #[arg(short, long)]
    pub detach: bool,
    /// File to write the process id to
    #[arg(long = "pid-file", value_name = "PATH")]
    pub pid_file: Option<PathBuf>,
    /// Do not make hull a child subreaper
    #[arg(long = "no-subreaper")]
    pub no_subreaper: bool,
    /// Do not use pivot_root to jail the process inside the rootfs
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Close established TCP connections on restore
    #[arg(long = "tcp-close")]
    pub tcp_close: bool,
    /// LSM profile for the restored processes, as TYPE:NAME
    #[arg(long = "lsm-profile", value_name = "TYPE:NAME")]
    pub lsm_profile: Option<String>,
    /// LSM mount context for the restore
    #[arg(long = "lsm-mount-context", value_name = "CONTEXT")]
    pub lsm_mount_context: Option<String>,
}

#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// LinuxResources JSON from FILE, or from stdin with `-`
    #[arg(short, long, value_name = "FILE")]
    pub resources: Option<String>,
    /// Memory limit (bytes, or with a k/m/g suffix; -1: unlimited)
    #[arg(long, value_name = "SIZE", allow_hyphen_values = true)]
    pub memory: Option<String>,
    /// Memory plus swap limit
    #[arg(long = "memory-swap", value_name = "SIZE", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Memory soft limit
    #[arg(
        long = "memory-reservation",
        value_name = "SIZE",
        allow_hyphen_values = true
    )]
    pub memory_reservation: Option<String>,
    /// Kernel memory limit
    #[arg(
        long = "kernel-memory",
        value_name = "SIZE",
        allow_hyphen_values = true
    )]
    pub kernel_memory: Option<String>,
    /// Kernel TCP buffer memory limit
    #[arg(
        long = "kernel-memory-tcp",
        value_name = "SIZE",
        allow_hyphen_values = true
    )]
    pub kernel_memory_tcp: Option<String>,
    /// CPU shares (relative weight)
    #[arg(long = "cpu-share", visible_alias = "cpu-shares", value_name = "N")]
    pub cpu_shares: Option<u64>,
    /// CPU CFS quota in microseconds
    #[arg(long = "cpu-quota", value_name = "US", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPU CFS period in microseconds
    #[arg(long = "cpu-period", value_name = "US")]
    pub cpu_period: Option<u64>,
    /// CPU realtime period in microseconds
    #[arg(long = "cpu-rt-period", value_name = "US")]
    pub cpu_rt_period: Option<u64>,
    /// CPU realtime runtime in microseconds
    #[arg(long = "cpu-rt-runtime", value_name = "US", allow_hyphen_values = true)]
    pub cpu_rt_runtime: Option<i64>,
    /// cpu.idle: 1 puts the container's tasks in SCHED_IDLE, 0 back
    #[arg(long = "cpu-idle", value_name = "0|1")]
    pub cpu_idle: Option<i64>,
    /// CPU burst (microseconds) on top of the quota
    #[arg(long = "cpu-burst", value_name = "US")]
    pub cpu_burst: Option<u64>,
    /// CPUs to use (0-3, 0,1)
    #[arg(long = "cpuset-cpus", value_name = "LIST")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes to use (0-3, 0,1)
    #[arg(long = "cpuset-mems", value_name = "LIST")]
    pub cpuset_mems: Option<String>,
    /// Maximum number of pids (-1: unlimited)
    #[arg(long = "pids-limit", value_name = "N", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Block I/O weight (10-1000)
    #[arg(long = "blkio-weight", value_name = "N")]
    pub blkio_weight: Option<u16>,
    /// Container id
    pub id: String,
}

#[derive(Args, Debug)]
pub struct EventsArgs {
    /// Display the container's stats once, then exit
    #[arg(long)]
    pub stats: bool,
    /// Interval between stats events (a Go duration: 5s, 500ms)
    #[arg(long, default_value = "5s", value_name = "DURATION")]
    pub interval: String,
    /// Container id
    pub id: String,
}

#[derive(Args, Debug)]
#[command(trailing_var_arg = true)]
pub struct PsArgs {
    /// Output format: table or json
    #[arg(short, long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
    /// Container id
    pub id: String,
    /// Options for the host's ps (default -ef)
    #[arg(allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

#[derive(Args, Debug)]
pub struct SpecArgs {
    /// Path to the bundle
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// Generate a configuration for a rootless container
    #[arg(long)]
    pub rootless: bool,
}

#[derive(Args, Debug, Clone)]
pub struct CreateArgs {
    /// Container id
    pub id: String,
    /// Path to the root of the bundle directory
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// Path to an AF_UNIX socket that receives the console's pseudoterminal master
    #[arg(long = "console-socket", value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// File to write the process id to
    #[arg(long = "pid-file", value_name = "PATH")]
    pub pid_file: Option<PathBuf>,
    /// Do not use pivot_root to jail the process inside the rootfs
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Do not create a new session keyring for the container
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Pass N additional file descriptors (3 .. 3+N-1) to the container
    #[arg(long = "preserve-fds", default_value_t = 0, value_name = "N")]
    pub preserve_fds: u32,
    /// Path to an AF_UNIX socket that receives a pidfd of the container's init
    #[arg(long = "pidfd-socket", value_name = "PATH")]
    pub pidfd_socket: Option<PathBuf>,
}

#[derive(Args, Debug)]
#[command(trailing_var_arg = true)]
pub struct ExecArgs {
    /// Path to an AF_UNIX socket that receives the console's pseudoterminal master
    #[arg(long = "console-socket", value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Path to an AF_UNIX socket that receives a pidfd of the new process
    #[arg(long = "pidfd-socket", value_name = "PATH")]
    pub pidfd_socket: Option<PathBuf>,
    /// Current working directory in the container
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<String>,
    /// Set environment variables (NAME=VALUE)
    #[arg(short, long = "env", value_name = "NAME=VALUE")]
    pub env: Vec<String>,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    pub tty: bool,
    /// UID (format: <uid>[:<gid>])
    #[arg(short, long, value_name = "UID[:GID]")]
    pub user: Option<String>,
    /// Additional gids
    #[arg(short = 'g', long = "additional-gids", value_name = "GID")]
    pub additional_gids: Vec<u32>,
    /// Path to the process.json
    #[arg(short, long, value_name = "FILE")]
    pub process: Option<PathBuf>,
    /// Detach from the container's process
    #[arg(short, long)]
    pub detach: bool,
    /// File to write the process id to
    #[arg(long = "pid-file", value_name = "PATH")]
    pub pid_file: Option<PathBuf>,
    /// SELinux label for the process
    #[arg(long = "process-label", value_name = "LABEL")]
    pub process_label: Option<String>,
    /// AppArmor profile for the process
    #[arg(long, value_name = "PROFILE")]
    pub apparmor: Option<String>,
    /// Set the no new privileges value for the process
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    /// Add a capability to the bounding, effective, permitted and ambient sets
    #[arg(short, long = "cap", value_name = "CAP")]
    pub cap: Vec<String>,
    /// Pass N additional file descriptors (3 .. 3+N-1) to the process
    #[arg(long = "preserve-fds", default_value_t = 0, value_name = "N")]
    pub preserve_fds: u32,
    /// Run in a sub-cgroup: PATH, or CONTROLLER[,CONTROLLER]:PATH (repeatable)
    #[arg(long = "cgroup", value_name = "PATH")]
    pub cgroup: Vec<String>,
    /// Allow exec in a paused container
    #[arg(long = "ignore-paused")]
    pub ignore_paused: bool,
    /// Container id
    pub id: String,
    /// Command and arguments
    #[arg(allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub create: CreateArgs,
    /// Detach from the container's process
    #[arg(short, long)]
    pub detach: bool,
    /// Do not delete the container after it exits
    #[arg(long)]
    pub keep: bool,
    /// Do not make hull a child subreaper
    #[arg(long = "no-subreaper")]
    pub no_subreaper: bool,
}

#[derive(Args, Debug)]
pub struct IdArg {
    /// Container id
    pub id: String,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Output format: table or json
    #[arg(short, long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
    /// Display only container ids
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListFormat {
    Table,
    Json,
}

#[derive(Args, Debug)]
pub struct KillArgs {
    /// Send the signal to all processes in the container
    #[arg(short, long)]
    pub all: bool,
    /// Container id
    pub id: String,
    /// Signal name (KILL, SIGKILL) or number
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
}

#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// Forcibly delete a running container (SIGKILL first)
    #[arg(short, long)]
    pub force: bool,
    /// Container id
    pub id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(args: &[&str]) -> Cli {
        let a: Vec<std::ffi::OsString> = args.iter().map(|s| s.into()).collect();
        parse(&a).unwrap()
    }

    #[test]
    fn a_long_option_with_one_dash_is_taken_before_the_operands_only() {
        let c = parsed(&[
            "hull",
            "restore",
            "-no-subreaper",
            "-d",
            "-image-path=/i",
            "x",
        ]);
        let Command::Restore(r) = c.command else {
            panic!("restore")
        };
        assert!(r.no_subreaper && r.detach);
        assert_eq!(
            r.criu.image_path.as_deref(),
            Some(std::path::Path::new("/i"))
        );
        // After the id, arguments are the process's own.
        let c = parsed(&["hull", "exec", "x", "ps", "-ef", "-tty"]);
        let Command::Exec(e) = c.command else {
            panic!("exec")
        };
        assert_eq!(e.command, ["ps", "-ef", "-tty"]);
        assert!(!e.tty);
    }
}
