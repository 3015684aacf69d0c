//! Compile time and program length of a profile: `compile_bench [PROFILE.json] [RUNS]`
//! (default: Docker's default profile for x86_64, 200 runs). Prints the median and the
//! fastest compile in µs and the instruction count. Run it in release
//! (integration/bench/seccomp.sh does).

use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/docker-default-x86_64.json"
        )
        .into()
    });
    let runs: usize = args
        .next()
        .map_or(200, |n| n.parse().expect("RUNS is a number"));
    let text = std::fs::read_to_string(&path).expect("read the profile");
    let profile: oci_spec::runtime::LinuxSeccomp =
        serde_json::from_str(&text).expect("an OCI linux.seccomp object");
    let mut times = Vec::with_capacity(runs);
    let mut len = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let p = hull_seccomp::compile(&profile).expect("compiles");
        times.push(t.elapsed().as_secs_f64() * 1e6);
        len = p.filter.len();
    }
    times.sort_by(f64::total_cmp);
    println!(
        "hull: {path}: median {:.1} µs, fastest {:.1} µs over {runs} runs; {len} instructions",
        times[runs / 2],
        times[0]
    );
}
