//! `vonage`'s signature check and parser on arbitrary requests.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| smstrail::providers::fuzzing::fuzz_provider("vonage", data));
