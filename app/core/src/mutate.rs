//! Random damage to valid input, for the tests that feed every decoder of outside data with
//! what a broken or hostile peer might send (stable Rust, inside `cargo test`: no fuzzing
//! toolchain). Deterministic for a seed, so a failure names the case that repeats it.
//!
//! `TWINSCOPE_MUTATION_CASES` raises the number of cases per test for a longer run.

use crate::sim::rng::Rng;

/// Cases each test runs (the default keeps `cargo test` quick on two cores).
pub fn cases(default: usize) -> usize {
    std::env::var("TWINSCOPE_MUTATION_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

/// Makes damaged copies of valid input: bytes overwritten (with random values and the
/// boundary values decoders trip on), inserted, deleted, duplicated, or the input cut short.
pub struct Mutator {
    rng: Rng,
}

impl Mutator {
    pub fn new(seed: u64) -> Self {
        Mutator {
            rng: Rng::new(seed),
        }
    }

    /// A number below `n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.rng.next_u64() % n as u64) as usize
    }

    /// A copy of `input` with one to four random edits.
    pub fn mutate(&mut self, input: &[u8]) -> Vec<u8> {
        let mut bytes = input.to_vec();
        for _ in 0..1 + self.below(4) {
            if bytes.is_empty() {
                bytes.push(self.rng.next_u64() as u8);
                continue;
            }
            let at = self.below(bytes.len());
            match self.below(7) {
                0 | 1 => bytes[at] = self.rng.next_u64() as u8,
                2 => bytes[at] = [0x00, 0xFF, 0x7F, 0x80][self.below(4)],
                3 => {
                    let run: Vec<u8> = (0..1 + self.below(8))
                        .map(|_| self.rng.next_u64() as u8)
                        .collect();
                    bytes.splice(at..at, run);
                }
                4 => {
                    let end = (at + 1 + self.below(16)).min(bytes.len());
                    bytes.drain(at..end);
                }
                5 => {
                    let end = (at + 1 + self.below(32)).min(bytes.len());
                    let copy = bytes[at..end].to_vec();
                    bytes.splice(at..at, copy);
                }
                _ => bytes.truncate(at),
            }
        }
        bytes
    }

    /// A copy of a text input, damaged the same way and then made valid UTF-8 again (for
    /// decoders that take `&str`).
    pub fn mutate_text(&mut self, input: &str) -> String {
        String::from_utf8_lossy(&self.mutate(input.as_bytes())).into_owned()
    }
}
