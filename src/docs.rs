//! Man pages and shell completions from the clap definitions (a `--features docs` build
//! only, run by scripts/gen-docs.sh): `hull(8)` and `hull-<command>(8)`, bash, zsh and
//! fish completions. Generated, committed, and checked for drift by the test command.

use std::path::Path;

use crate::error::{Context, Result};

pub fn generate(out: &Path) -> Result<()> {
    let cmd = crate::cli::command("hull");
    let man = out.join("man");
    std::fs::create_dir_all(&man).context(|| format!("mkdir {}", man.display()))?;
    let write = |path: &Path, bytes: Vec<u8>| {
        std::fs::write(path, bytes).context(|| format!("write {}", path.display()))
    };
    // `hull-run(8)`, as `git-commit(1)`: a page per command, titled by its path, its
    // synopsis `hull run ...`.
    let page = |c: clap::Command, title: &str| -> Result<Vec<u8>> {
        let mut buf = Vec::new();
        let usage = title.replacen('-', " ", 1);
        let c = c.display_name(title.to_string()).bin_name(usage);
        clap_mangen::Man::new(c)
            .section("8")
            .manual("hull")
            .render(&mut buf)
            .context(|| format!("render the man page of {title}"))?;
        Ok(buf)
    };
    // The package version only: the commit would change the page at every commit.
    let top = cmd.clone().version(env!("CARGO_PKG_VERSION"));
    write(&man.join("hull.8"), page(top, "hull")?)?;
    for sub in cmd.get_subcommands().filter(|c| !c.is_hide_set()) {
        let title = format!("hull-{}", sub.get_name());
        write(&man.join(format!("{title}.8")), page(sub.clone(), &title)?)?;
    }
    let comp = out.join("completions");
    std::fs::create_dir_all(&comp).context(|| format!("mkdir {}", comp.display()))?;
    use clap_complete::Shell;
    for (shell, file) in [
        (Shell::Bash, "hull.bash"),
        (Shell::Zsh, "_hull"),
        (Shell::Fish, "hull.fish"),
    ] {
        let mut buf = Vec::new();
        clap_complete::generate(shell, &mut cmd.clone(), "hull", &mut buf);
        write(&comp.join(file), buf)?;
    }
    Ok(())
}
