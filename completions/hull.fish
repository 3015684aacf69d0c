# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_hull_global_optspecs
    string join \n root= log= log-format= debug systemd-cgroup rootless= criu= v/version h/help
end

function __fish_hull_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_hull_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_hull_using_subcommand
    set -l cmd (__fish_hull_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c hull -n "__fish_hull_needs_command" -l root -d 'Root directory for the state of containers [default: /run/hull, or $XDG_RUNTIME_DIR/hull for rootless containers]' -r -F
complete -c hull -n "__fish_hull_needs_command" -l log -d 'Write log messages to FILE (default: stderr)' -r -F
complete -c hull -n "__fish_hull_needs_command" -l log-format -d 'Log format' -r -f -a "text\t''
json\t''"
complete -c hull -n "__fish_hull_needs_command" -l rootless -d 'Rootless mode: true, false or auto' -r
complete -c hull -n "__fish_hull_needs_command" -l criu -d 'Path to the criu binary' -r -F
complete -c hull -n "__fish_hull_needs_command" -l debug -d 'Enable debug logging'
complete -c hull -n "__fish_hull_needs_command" -l systemd-cgroup -d 'Use systemd to manage cgroups'
complete -c hull -n "__fish_hull_needs_command" -s v -l version -d 'Print the version'
complete -c hull -n "__fish_hull_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c hull -n "__fish_hull_needs_command" -f -a "spec" -d 'Create a new specification file (config.json)'
complete -c hull -n "__fish_hull_needs_command" -f -a "create" -d 'Create a container'
complete -c hull -n "__fish_hull_needs_command" -f -a "start" -d 'Start a created container'
complete -c hull -n "__fish_hull_needs_command" -f -a "run" -d 'Create and start a container'
complete -c hull -n "__fish_hull_needs_command" -f -a "state" -d 'Output the state of a container'
complete -c hull -n "__fish_hull_needs_command" -f -a "list" -d 'List containers started by hull with the given root'
complete -c hull -n "__fish_hull_needs_command" -f -a "ls" -d 'List containers started by hull with the given root'
complete -c hull -n "__fish_hull_needs_command" -f -a "kill" -d 'Send a signal to the container\'s init process'
complete -c hull -n "__fish_hull_needs_command" -f -a "delete" -d 'Delete any resources held by the container'
complete -c hull -n "__fish_hull_needs_command" -f -a "exec" -d 'Execute a new process inside the container'
complete -c hull -n "__fish_hull_needs_command" -f -a "pause" -d 'Suspend all processes of the container (cgroup freezer)'
complete -c hull -n "__fish_hull_needs_command" -f -a "resume" -d 'Resume all processes of a paused container'
complete -c hull -n "__fish_hull_needs_command" -f -a "ps" -d 'List the processes running inside a container'
complete -c hull -n "__fish_hull_needs_command" -f -a "events" -d 'Display container events: OOM notices and resource usage statistics'
complete -c hull -n "__fish_hull_needs_command" -f -a "update" -d 'Update the resource limits of a running container'
complete -c hull -n "__fish_hull_needs_command" -f -a "features" -d 'Show the enabled features (JSON, as the runtime spec\'s features.md)'
complete -c hull -n "__fish_hull_needs_command" -f -a "checkpoint" -d 'Checkpoint a running container (with CRIU)'
complete -c hull -n "__fish_hull_needs_command" -f -a "restore" -d 'Restore a container from a previous checkpoint (with CRIU)'
complete -c hull -n "__fish_hull_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c hull -n "__fish_hull_using_subcommand spec" -s b -l bundle -d 'Path to the bundle' -r -F
complete -c hull -n "__fish_hull_using_subcommand spec" -l rootless -d 'Generate a configuration for a rootless container'
complete -c hull -n "__fish_hull_using_subcommand spec" -s h -l help -d 'Print help'
complete -c hull -n "__fish_hull_using_subcommand create" -s b -l bundle -d 'Path to the root of the bundle directory' -r -F
complete -c hull -n "__fish_hull_using_subcommand create" -l console-socket -d 'Path to an AF_UNIX socket that receives the console\'s pseudoterminal master' -r -F
complete -c hull -n "__fish_hull_using_subcommand create" -l pid-file -d 'File to write the process id to' -r -F
complete -c hull -n "__fish_hull_using_subcommand create" -l preserve-fds -d 'Pass N additional file descriptors (3 .. 3+N-1) to the container' -r
complete -c hull -n "__fish_hull_using_subcommand create" -l pidfd-socket -d 'Path to an AF_UNIX socket that receives a pidfd of the container\'s init' -r -F
complete -c hull -n "__fish_hull_using_subcommand create" -l no-pivot -d 'Do not use pivot_root to jail the process inside the rootfs'
complete -c hull -n "__fish_hull_using_subcommand create" -l no-new-keyring -d 'Do not create a new session keyring for the container'
complete -c hull -n "__fish_hull_using_subcommand create" -s h -l help -d 'Print help'
complete -c hull -n "__fish_hull_using_subcommand start" -s h -l help -d 'Print help'
complete -c hull -n "__fish_hull_using_subcommand run" -s b -l bundle -d 'Path to the root of the bundle directory' -r -F
complete -c hull -n "__fish_hull_using_subcommand run" -l console-socket -d 'Path to an AF_UNIX socket that receives the console\'s pseudoterminal master' -r -F
complete -c hull -n "__fish_hull_using_subcommand run" -l pid-file -d 'File to write the process id to' -r -F
complete -c hull -n "__fish_hull_using_subcommand run" -l preserve-fds -d 'Pass N additional file descriptors (3 .. 3+N-1) to the container' -r
complete -c hull -n "__fish_hull_using_subcommand run" -l pidfd-socket -d 'Path to an AF_UNIX socket that receives a pidfd of the container\'s init' -r -F
complete -c hull -n "__fish_hull_using_subcommand run" -l no-pivot -d 'Do not use pivot_root to jail the process inside the rootfs'
complete -c hull -n "__fish_hull_using_subcommand run" -l no-new-keyring -d 'Do not create a new session keyring for the container'
complete -c hull -n "__fish_hull_using_subcommand run" -s d -l detach -d 'Detach from the container\'s process'
complete -c hull -n "__fish_hull_using_subcommand run" -l keep -d 'Do not delete the container after it exits'
complete -c hull -n "__fish_hull_using_subcommand run" -l no-subreaper -d 'Do not make hull a child subreaper'
complete -c hull -n "__fish_hull_using_subcommand run" -s h -l help -d 'Print help'
complete -c hull -n "__fish_hull_using_subcommand state" -s h -l help -d 'Print help'
complete -c hull -n "__fish_hull_using_subcommand list" -s f -l format -d 'Output format: table or json' -r -f -a "table\t''
json\t''"
complete -c hull -n "__fish_hull_using_subcommand list" -s q -l quiet -d 'Display only container ids'
complete -c hull -n "__fish_hull_using_subcommand list" -s h -l help -d 'Print help'
complete -c hull -n "__fish_hull_using_subcommand ls" -s f -l format -d 'Output format: table or json' -r -f -a "table\t''
json\t''"
complete -c hull -n "__fish_hull_using_subcommand ls" -s q -l quiet -d 'Display only container ids'
complete -c hull -n "__fish_hull_using_subcommand ls" -s h -l help -d 'Print help'
complete -c hull -n "__fish_hull_using_subcommand kill" -s a -l all -d 'Send the signal to all processes in the container'
complete -c hull -n "__fish_hull_using_subcommand kill" -s h -l help -d 'Print help'
complete -c hull -n "__fish_hull_using_subcommand delete" -s f -l force -d 'Forcibly delete a running container (SIGKILL first)'
complete -c hull -n "__fish_hull_using_subcommand delete" -s h -l help -d 'Print help'
complete -c hull -n "__fish_hull_using_subcommand exec" -l console-socket -d 'Path to an AF_UNIX socket that receives the console\'s pseudoterminal master' -r -F
complete -c hull -n "__fish_hull_using_subcommand exec" -l pidfd-socket -d 'Path to an AF_UNIX socket that receives a pidfd of the new process' -r -F
complete -c hull -n "__fish_hull_using_subcommand exec" -l cwd -d 'Current working directory in the container' -r
complete -c hull -n "__fish_hull_using_subcommand exec" -s e -l env -d 'Set environment variables (NAME=VALUE)' -r
complete -c hull -n "__fish_hull_using_subcommand exec" -s u -l user -d 'UID (format: <uid>[:<gid>])' -r
complete -c hull -n "__fish_hull_using_subcommand exec" -s g -l additional-gids -d 'Additional gids' -r
complete -c hull -n "__fish_hull_using_subcommand exec" -s p -l process -d 'Path to the process.json' -r -F
complete -c hull -n "__fish_hull_using_subcommand exec" -l pid-file -d 'File to write the process id to' -r -F
complete -c hull -n "__fish_hull_using_subcommand exec" -l process-label -d 'SELinux label for the process' -r
complete -c hull -n "__fish_hull_using_subcommand exec" -l apparmor -d 'AppArmor profile for the process' -r
complete -c hull -n "__fish_hull_using_subcommand exec" -s c -l cap -d 'Add a capability to the bounding, effective, permitted and ambient sets' -r
complete -c hull -n "__fish_hull_using_subcommand exec" -l preserve-fds -d 'Pass N additional file descriptors (3 .. 3+N-1) to the process' -r
complete -c hull -n "__fish_hull_using_subcommand exec" -l cgroup -d 'Run in a sub-cgroup: PATH, or CONTROLLER[,CONTROLLER]:PATH (repeatable)' -r
complete -c hull -n "__fish_hull_using_subcommand exec" -s t -l tty -d 'Allocate a pseudo-TTY'
complete -c hull -n "__fish_hull_using_subcommand exec" -s d -l detach -d 'Detach from the container\'s process'
complete -c hull -n "__fish_hull_using_subcommand exec" -l no-new-privs -d 'Set the no new privileges value for the process'
complete -c hull -n "__fish_hull_using_subcommand exec" -l ignore-paused -d 'Allow exec in a paused container'
complete -c hull -n "__fish_hull_using_subcommand exec" -s h -l help -d 'Print help'
complete -c hull -n "__fish_hull_using_subcommand pause" -s h -l help -d 'Print help'
complete -c hull -n "__fish_hull_using_subcommand resume" -s h -l help -d 'Print help'
complete -c hull -n "__fish_hull_using_subcommand ps" -s f -l format -d 'Output format: table or json' -r -f -a "table\t''
json\t''"
complete -c hull -n "__fish_hull_using_subcommand ps" -s h -l help -d 'Print help'
complete -c hull -n "__fish_hull_using_subcommand events" -l interval -d 'Interval between stats events (a Go duration: 5s, 500ms)' -r
complete -c hull -n "__fish_hull_using_subcommand events" -l stats -d 'Display the container\'s stats once, then exit'
complete -c hull -n "__fish_hull_using_subcommand events" -s h -l help -d 'Print help'
complete -c hull -n "__fish_hull_using_subcommand update" -s r -l resources -d 'LinuxResources JSON from FILE, or from stdin with `-`' -r
complete -c hull -n "__fish_hull_using_subcommand update" -l memory -d 'Memory limit (bytes, or with a k/m/g suffix; -1: unlimited)' -r
complete -c hull -n "__fish_hull_using_subcommand update" -l memory-swap -d 'Memory plus swap limit' -r
complete -c hull -n "__fish_hull_using_subcommand update" -l memory-reservation -d 'Memory soft limit' -r
complete -c hull -n "__fish_hull_using_subcommand update" -l kernel-memory -d 'Kernel memory limit' -r
complete -c hull -n "__fish_hull_using_subcommand update" -l kernel-memory-tcp -d 'Kernel TCP buffer memory limit' -r
complete -c hull -n "__fish_hull_using_subcommand update" -l cpu-share -l cpu-shares -d 'CPU shares (relative weight)' -r
complete -c hull -n "__fish_hull_using_subcommand update" -l cpu-quota -d 'CPU CFS quota in microseconds' -r
complete -c hull -n "__fish_hull_using_subcommand update" -l cpu-period -d 'CPU CFS period in microseconds' -r
complete -c hull -n "__fish_hull_using_subcommand update" -l cpu-rt-period -d 'CPU realtime period in microseconds' -r
complete -c hull -n "__fish_hull_using_subcommand update" -l cpu-rt-runtime -d 'CPU realtime runtime in microseconds' -r
complete -c hull -n "__fish_hull_using_subcommand update" -l cpu-idle -d 'cpu.idle: 1 puts the container\'s tasks in SCHED_IDLE, 0 back' -r
complete -c hull -n "__fish_hull_using_subcommand update" -l cpu-burst -d 'CPU burst (microseconds) on top of the quota' -r
complete -c hull -n "__fish_hull_using_subcommand update" -l cpuset-cpus -d 'CPUs to use (0-3, 0,1)' -r
complete -c hull -n "__fish_hull_using_subcommand update" -l cpuset-mems -d 'Memory nodes to use (0-3, 0,1)' -r
complete -c hull -n "__fish_hull_using_subcommand update" -l pids-limit -d 'Maximum number of pids (-1: unlimited)' -r
complete -c hull -n "__fish_hull_using_subcommand update" -l blkio-weight -d 'Block I/O weight (10-1000)' -r
complete -c hull -n "__fish_hull_using_subcommand update" -s h -l help -d 'Print help'
complete -c hull -n "__fish_hull_using_subcommand features" -s h -l help -d 'Print help'
complete -c hull -n "__fish_hull_using_subcommand checkpoint" -l image-path -d 'Path to the CRIU image files (default: ./checkpoint)' -r -F
complete -c hull -n "__fish_hull_using_subcommand checkpoint" -l work-path -d 'Path for CRIU\'s work files and logs (default: the image path)' -r -F
complete -c hull -n "__fish_hull_using_subcommand checkpoint" -l manage-cgroups-mode -d 'Cgroups mode: soft|full|strict|ignore (default: soft)' -r
complete -c hull -n "__fish_hull_using_subcommand checkpoint" -l empty-ns -d 'Create a namespace, but do not restore its properties (network)' -r
complete -c hull -n "__fish_hull_using_subcommand checkpoint" -l parent-path -d 'Path of the previous (pre-dump) images, relative to the image path' -r -F
complete -c hull -n "__fish_hull_using_subcommand checkpoint" -l status-fd -d 'CRIU writes \\0 to this fd once lazy pages are ready' -r
complete -c hull -n "__fish_hull_using_subcommand checkpoint" -l page-server -d 'ADDRESS:PORT of the page server' -r
complete -c hull -n "__fish_hull_using_subcommand checkpoint" -l tcp-established -d 'Allow open TCP connections'
complete -c hull -n "__fish_hull_using_subcommand checkpoint" -l ext-unix-sk -d 'Allow external unix sockets'
complete -c hull -n "__fish_hull_using_subcommand checkpoint" -l shell-job -d 'Allow shell jobs'
complete -c hull -n "__fish_hull_using_subcommand checkpoint" -l file-locks -d 'Handle file locks'
complete -c hull -n "__fish_hull_using_subcommand checkpoint" -l auto-dedup -d 'Enable auto deduplication of memory images'
complete -c hull -n "__fish_hull_using_subcommand checkpoint" -l lazy-pages -d 'Use userfaultfd to restore memory pages lazily'
complete -c hull -n "__fish_hull_using_subcommand checkpoint" -l leave-running -d 'Leave the processes running after the checkpoint'
complete -c hull -n "__fish_hull_using_subcommand checkpoint" -l tcp-skip-in-flight -d 'Skip in-flight TCP connections'
complete -c hull -n "__fish_hull_using_subcommand checkpoint" -l link-remap -d 'Link unlinked files back when possible'
complete -c hull -n "__fish_hull_using_subcommand checkpoint" -l pre-dump -d 'Dump the memory only and leave the container running'
complete -c hull -n "__fish_hull_using_subcommand checkpoint" -s h -l help -d 'Print help'
complete -c hull -n "__fish_hull_using_subcommand restore" -l image-path -d 'Path to the CRIU image files (default: ./checkpoint)' -r -F
complete -c hull -n "__fish_hull_using_subcommand restore" -l work-path -d 'Path for CRIU\'s work files and logs (default: the image path)' -r -F
complete -c hull -n "__fish_hull_using_subcommand restore" -l manage-cgroups-mode -d 'Cgroups mode: soft|full|strict|ignore (default: soft)' -r
complete -c hull -n "__fish_hull_using_subcommand restore" -l empty-ns -d 'Create a namespace, but do not restore its properties (network)' -r
complete -c hull -n "__fish_hull_using_subcommand restore" -s b -l bundle -d 'Path to the root of the bundle directory' -r -F
complete -c hull -n "__fish_hull_using_subcommand restore" -l console-socket -d 'Path to an AF_UNIX socket that receives the console\'s pseudoterminal master' -r -F
complete -c hull -n "__fish_hull_using_subcommand restore" -l pid-file -d 'File to write the process id to' -r -F
complete -c hull -n "__fish_hull_using_subcommand restore" -l lsm-profile -d 'LSM profile for the restored processes, as TYPE:NAME' -r
complete -c hull -n "__fish_hull_using_subcommand restore" -l lsm-mount-context -d 'LSM mount context for the restore' -r
complete -c hull -n "__fish_hull_using_subcommand restore" -l tcp-established -d 'Allow open TCP connections'
complete -c hull -n "__fish_hull_using_subcommand restore" -l ext-unix-sk -d 'Allow external unix sockets'
complete -c hull -n "__fish_hull_using_subcommand restore" -l shell-job -d 'Allow shell jobs'
complete -c hull -n "__fish_hull_using_subcommand restore" -l file-locks -d 'Handle file locks'
complete -c hull -n "__fish_hull_using_subcommand restore" -l auto-dedup -d 'Enable auto deduplication of memory images'
complete -c hull -n "__fish_hull_using_subcommand restore" -l lazy-pages -d 'Use userfaultfd to restore memory pages lazily'
complete -c hull -n "__fish_hull_using_subcommand restore" -s d -l detach -d 'Detach from the container\'s process'
complete -c hull -n "__fish_hull_using_subcommand restore" -l no-subreaper -d 'Do not make hull a child subreaper'
complete -c hull -n "__fish_hull_using_subcommand restore" -l no-pivot -d 'Do not use pivot_root to jail the process inside the rootfs'
complete -c hull -n "__fish_hull_using_subcommand restore" -l tcp-close -d 'Close established TCP connections on restore'
complete -c hull -n "__fish_hull_using_subcommand restore" -s h -l help -d 'Print help'
complete -c hull -n "__fish_hull_using_subcommand help; and not __fish_seen_subcommand_from spec create start run state list kill delete exec pause resume ps events update features checkpoint restore help" -f -a "spec" -d 'Create a new specification file (config.json)'
complete -c hull -n "__fish_hull_using_subcommand help; and not __fish_seen_subcommand_from spec create start run state list kill delete exec pause resume ps events update features checkpoint restore help" -f -a "create" -d 'Create a container'
complete -c hull -n "__fish_hull_using_subcommand help; and not __fish_seen_subcommand_from spec create start run state list kill delete exec pause resume ps events update features checkpoint restore help" -f -a "start" -d 'Start a created container'
complete -c hull -n "__fish_hull_using_subcommand help; and not __fish_seen_subcommand_from spec create start run state list kill delete exec pause resume ps events update features checkpoint restore help" -f -a "run" -d 'Create and start a container'
complete -c hull -n "__fish_hull_using_subcommand help; and not __fish_seen_subcommand_from spec create start run state list kill delete exec pause resume ps events update features checkpoint restore help" -f -a "state" -d 'Output the state of a container'
complete -c hull -n "__fish_hull_using_subcommand help; and not __fish_seen_subcommand_from spec create start run state list kill delete exec pause resume ps events update features checkpoint restore help" -f -a "list" -d 'List containers started by hull with the given root'
complete -c hull -n "__fish_hull_using_subcommand help; and not __fish_seen_subcommand_from spec create start run state list kill delete exec pause resume ps events update features checkpoint restore help" -f -a "kill" -d 'Send a signal to the container\'s init process'
complete -c hull -n "__fish_hull_using_subcommand help; and not __fish_seen_subcommand_from spec create start run state list kill delete exec pause resume ps events update features checkpoint restore help" -f -a "delete" -d 'Delete any resources held by the container'
complete -c hull -n "__fish_hull_using_subcommand help; and not __fish_seen_subcommand_from spec create start run state list kill delete exec pause resume ps events update features checkpoint restore help" -f -a "exec" -d 'Execute a new process inside the container'
complete -c hull -n "__fish_hull_using_subcommand help; and not __fish_seen_subcommand_from spec create start run state list kill delete exec pause resume ps events update features checkpoint restore help" -f -a "pause" -d 'Suspend all processes of the container (cgroup freezer)'
complete -c hull -n "__fish_hull_using_subcommand help; and not __fish_seen_subcommand_from spec create start run state list kill delete exec pause resume ps events update features checkpoint restore help" -f -a "resume" -d 'Resume all processes of a paused container'
complete -c hull -n "__fish_hull_using_subcommand help; and not __fish_seen_subcommand_from spec create start run state list kill delete exec pause resume ps events update features checkpoint restore help" -f -a "ps" -d 'List the processes running inside a container'
complete -c hull -n "__fish_hull_using_subcommand help; and not __fish_seen_subcommand_from spec create start run state list kill delete exec pause resume ps events update features checkpoint restore help" -f -a "events" -d 'Display container events: OOM notices and resource usage statistics'
complete -c hull -n "__fish_hull_using_subcommand help; and not __fish_seen_subcommand_from spec create start run state list kill delete exec pause resume ps events update features checkpoint restore help" -f -a "update" -d 'Update the resource limits of a running container'
complete -c hull -n "__fish_hull_using_subcommand help; and not __fish_seen_subcommand_from spec create start run state list kill delete exec pause resume ps events update features checkpoint restore help" -f -a "features" -d 'Show the enabled features (JSON, as the runtime spec\'s features.md)'
complete -c hull -n "__fish_hull_using_subcommand help; and not __fish_seen_subcommand_from spec create start run state list kill delete exec pause resume ps events update features checkpoint restore help" -f -a "checkpoint" -d 'Checkpoint a running container (with CRIU)'
complete -c hull -n "__fish_hull_using_subcommand help; and not __fish_seen_subcommand_from spec create start run state list kill delete exec pause resume ps events update features checkpoint restore help" -f -a "restore" -d 'Restore a container from a previous checkpoint (with CRIU)'
complete -c hull -n "__fish_hull_using_subcommand help; and not __fish_seen_subcommand_from spec create start run state list kill delete exec pause resume ps events update features checkpoint restore help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
