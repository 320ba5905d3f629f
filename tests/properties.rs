//! Property tests against simple references.

use proptest::prelude::*;

use pseudolink::encode::Outcome;
use pseudolink::encode::bloom::{BloomParams, dice, encode};
use pseudolink::encode::category::normalise_text;
use pseudolink::encode::name::normalise_name;
use pseudolink::encode::postcode::normalise_postcode;
use pseudolink::token::{NhsNumber, ProjectKey, Purpose, Subkey, TokenMac};

/// Reference modulus 11, written the long way.
fn reference_valid(digits: &[u8; 10]) -> bool {
    let mut sum = 0u32;
    for (i, d) in digits[..9].iter().enumerate() {
        sum += u32::from(d - b'0') * (10 - i as u32);
    }
    let check = 11 - (sum % 11);
    let check = if check == 11 { 0 } else { check };
    check != 10 && check == u32::from(digits[9] - b'0') && !digits.iter().all(|&d| d == digits[0])
}

proptest! {
    #[test]
    fn nhs_number_parse_agrees_with_reference(digits in proptest::array::uniform10(b'0'..=b'9')) {
        let s = std::str::from_utf8(&digits).unwrap();
        prop_assert_eq!(NhsNumber::parse(s).is_ok(), reference_valid(&digits));
    }

    #[test]
    fn name_normalisation_is_idempotent(s in "\\PC{0,24}") {
        let (mut a, mut parts) = (String::new(), Vec::new());
        if normalise_name(&s, &mut a, &mut parts) == Outcome::Value {
            let mut b = String::new();
            prop_assert_eq!(normalise_name(&a, &mut b, &mut parts), Outcome::Value);
            prop_assert_eq!(a, b);
        }
    }

    #[test]
    fn text_and_postcode_normalisation_are_idempotent(s in "[ A-Za-z0-9éü,'.-]{0,12}") {
        let (mut a, mut b) = (String::new(), String::new());
        if normalise_text(&s, &mut a) == Outcome::Value {
            normalise_text(&a, &mut b);
            prop_assert_eq!(&a, &b);
        }
        if normalise_postcode(&s, &mut a).0 == Outcome::Value {
            normalise_postcode(&a.clone(), &mut b);
            prop_assert_eq!(&a, &b);
        }
    }

    #[test]
    fn dice_is_symmetric_in_unit_interval_and_one_on_self(a in "[A-Z]{1,12}", b in "[A-Z]{1,12}") {
        let key = ProjectKey::from_bytes([8; 32]);
        let mac = TokenMac::new(&Subkey::derive(&key, &Purpose::NameBloom));
        let p = BloomParams::default();
        let (mut x, mut y) = (vec![0u8; 128], vec![0u8; 128]);
        encode(&p, &mac, &a, &mut Vec::new(), None, b"", &mut x);
        encode(&p, &mac, &b, &mut Vec::new(), None, b"", &mut y);
        let d = dice(&x, &y);
        prop_assert!((0.0..=1.0).contains(&d));
        prop_assert_eq!(d, dice(&y, &x));
        prop_assert_eq!(dice(&x, &x), 1.0);
        if a == b { prop_assert_eq!(d, 1.0); }
    }
}
