//! Keys and tokens: the only cryptography in pseudolink.
//!
//! A project's secret [`ProjectKey`] never leaves the provider's side. Each purpose (NHS number,
//! name, date of birth …) gets its own [`Subkey`] derived from it with HKDF-SHA256, and tokens are
//! HMAC-SHA256 outputs under that subkey truncated to 128 bits ([`Token`]). The public
//! [`KeyId`] lets anyone check that extracts share a key without learning it.

pub mod key;
pub mod mac;
pub mod nhs_number;
pub mod rekey;
pub mod subkey;

pub use key::{KeyId, ProjectKey};
pub use mac::{TOKEN_BYTES, Token, TokenMac};
pub use nhs_number::{NhsNumber, NhsNumberStatus};
pub use subkey::{Purpose, Subkey};
