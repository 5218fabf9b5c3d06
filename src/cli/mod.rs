//! Command-line front end: parses arguments, calls the library, prints.

pub fn main() -> i32 {
    0
}
