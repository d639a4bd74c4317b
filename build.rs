//! Rebuilds the crate when a translation file changes: `rust_i18n::i18n!` reads `locales/`
//! while compiling, and cargo would not know to look there otherwise.

fn main() {
    println!("cargo::rerun-if-changed=locales");
}
