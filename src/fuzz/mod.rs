//! Fuzzing on stable Rust: proptest drives structured mutations of real inputs through the
//! same code the runtime runs, and checks that nothing panics and every error is one line.
//!
//! - `config`: config.json text (a valid config, mutated: values of other types, numbers
//!   out of range, long strings, NUL, lone surrogates, deep nesting, duplicate keys,
//!   removed fields, raw byte edits) -> `spec::parse` -> `rootfs_path`, `ProcessPlan`,
//!   `SeccompPlan`, `Plan::build`, the cgroup plan and resources check; the spec must also
//!   survive its trip through state.json.
//! - `process`: the text of `exec --process FILE`, mutated the same way, through the
//!   parse `exec` uses and the process plan.
//! - `resources`: the text of `update --resources`, through `update`'s parse and the
//!   cgroup check that comes before any write.
//!
//! Knobs (environment): `HULL_FUZZ_CASES` (per target; default small, for `cargo test`),
//! `HULL_FUZZ_SECONDS` (run batches until that much time has passed, instead), and
//! `HULL_FUZZ_SEED` (a batch's seed, printed on failure, replays it).
//! `integration/bench/fuzz.sh` runs them long.

mod mutate;
mod targets;

use std::cell::Cell;
use std::fmt::Debug;
use std::time::Instant;

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

/// Cases of one proptest run; a long run is many such batches, each with its own seed.
const BATCH: u32 = 256;

fn env_num<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    h.finish()
}

fn rng(seed: u64) -> TestRng {
    let mut bytes = [0u8; 32];
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        chunk.copy_from_slice(&seed.rotate_left(i as u32 * 16).to_le_bytes());
    }
    TestRng::from_seed(RngAlgorithm::ChaCha, &bytes)
}

/// Runs `test` on values of `strategy`: `default_cases` of them, or what the knobs say.
/// Panics (failing the test) with the shrunk input and the seed that replays it.
pub fn run<S>(
    name: &str,
    default_cases: u64,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S: Strategy,
    S::Value: Debug,
{
    let seconds: Option<f64> = env_num("HULL_FUZZ_SECONDS");
    let cases: u64 = env_num("HULL_FUZZ_CASES").unwrap_or(default_cases);
    let fixed_seed: Option<u64> = env_num("HULL_FUZZ_SEED");
    let first_seed = fixed_seed.unwrap_or_else(random_seed);
    let start = Instant::now();
    let executed = Cell::new(0u64);
    let mut batch = 0u64;
    loop {
        let left = match seconds {
            Some(_) => BATCH as u64,
            None => cases.saturating_sub(executed.get()),
        };
        if left == 0 {
            break;
        }
        let seed = first_seed.wrapping_add(batch.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let config = Config {
            cases: left.min(BATCH as u64) as u32,
            failure_persistence: None,
            max_shrink_iters: 4096,
            ..Config::default()
        };
        let mut runner = TestRunner::new_with_rng(config, rng(seed));
        let result = runner.run(&strategy, |v| {
            executed.set(executed.get() + 1);
            test(v)
        });
        if let Err(e) = result {
            panic!(
                "fuzz {name}: failure after {} executions; replay with HULL_FUZZ_SEED={seed} \
                 HULL_FUZZ_CASES={BATCH}: {e}",
                executed.get()
            );
        }
        batch += 1;
        if seconds.is_some_and(|s| start.elapsed().as_secs_f64() >= s) {
            break;
        }
    }
    // Read by integration/bench/fuzz.sh.
    eprintln!(
        "fuzz {name}: {} executions, 0 crashes, {:.1} s, seed {first_seed}",
        executed.get(),
        start.elapsed().as_secs_f64()
    );
}

/// The property every error of the runtime must have: one line, not empty.
pub fn one_line(what: &str, msg: &str) -> Result<(), TestCaseError> {
    if msg.is_empty() || msg.contains(['\n', '\r']) {
        return Err(TestCaseError::fail(format!(
            "{what}: the error is not one line: {msg:?}"
        )));
    }
    Ok(())
}

/// For finding many bugs at once (HULL_FUZZ_SURVEY=N): N inputs, no shrinking, every
/// distinct failure printed once. Not a test: the fuzz tests stop at the first failure.
pub fn survey<S>(name: &str, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S: Strategy,
    S::Value: Debug,
{
    use proptest::strategy::ValueTree;
    let Some(n) = env_num::<u64>("HULL_FUZZ_SURVEY") else {
        return;
    };
    let mut runner = TestRunner::new_with_rng(Config::default(), rng(random_seed()));
    let mut seen = std::collections::BTreeMap::<String, (u64, String)>::new();
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for _ in 0..n {
        let Ok(tree) = strategy.new_tree(&mut runner) else {
            continue;
        };
        let v = tree.current();
        let shown = format!("{v:?}");
        let why = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| test(v))) {
            Ok(Ok(())) => continue,
            Ok(Err(e)) => e.to_string(),
            Err(p) => format!(
                "PANIC {}",
                p.downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default()
            ),
        };
        let key: String = why
            .chars()
            .filter(|c| !c.is_ascii_digit())
            .take(70)
            .collect();
        let e = seen
            .entry(key)
            .or_insert((0, format!("{why:.300}\n    input: {shown:.600}")));
        e.0 += 1;
    }
    std::panic::set_hook(hook);
    eprintln!(
        "survey {name}: {} distinct failures in {n} inputs",
        seen.len()
    );
    for (_, (count, example)) in seen {
        eprintln!("  [{count}x] {example}");
    }
}
