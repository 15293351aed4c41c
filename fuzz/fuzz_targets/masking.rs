//! The raw-payload masking on arbitrary bodies.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| smstrail::providers::fuzzing::exercise_masking(data));
