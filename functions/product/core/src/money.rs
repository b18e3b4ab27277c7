//! Money: integer minor units plus an ISO 4217 currency.
//!
//! Amounts are never floating point. The currency must be a *current* ISO
//! 4217 alphabetic code from [`ISO_4217`], not merely three uppercase
//! letters: a typo such as `EUO` would otherwise create a product nobody can
//! pay for. Lowercase codes are rejected rather than silently upper-cased so
//! that what is stored is exactly what was sent.

use serde::{Deserialize, Serialize};

/// Largest accepted amount in minor units (just under 10^12, i.e. ten
/// billion in a 2-decimal currency): far above any catalogue price, and low
/// enough that sums over order lines cannot overflow an i64.
pub const MAX_AMOUNT_MINOR: i64 = 999_999_999_999;

/// Current ISO 4217 alphabetic codes for circulating currencies (fund codes,
/// precious metals and the `XTS`/`XXX` test codes are left out).
pub const ISO_4217: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD",
    "CDF", "CHF", "CLP", "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD",
    "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ",
    "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD",
    "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR",
    "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR",
    "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN",
    "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR",
    "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB",
    "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS",
    "VED", "VES", "VND", "VUV", "WST", "XAF", "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW",
    "ZWG",
];

/// A price as it appears in request and response bodies:
/// `{"amount_minor": 1999, "currency": "EUR"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    pub amount_minor: i64,
    pub currency: String,
}

/// Checks a currency code; the error is the message for the field.
pub fn validate_currency(code: &str) -> Result<(), &'static str> {
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err("must be a 3-letter uppercase ISO 4217 code, e.g. EUR");
    }
    if ISO_4217.binary_search(&code).is_err() {
        return Err("is not a current ISO 4217 currency code");
    }
    Ok(())
}

/// Checks an amount in minor units.
pub fn validate_amount(amount_minor: i64) -> Result<(), String> {
    if amount_minor < 0 {
        Err("must not be negative".to_string())
    } else if amount_minor > MAX_AMOUNT_MINOR {
        Err(format!("must be at most {MAX_AMOUNT_MINOR}"))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_is_sorted_unique_and_well_formed() {
        // binary_search depends on it.
        assert!(ISO_4217.windows(2).all(|w| w[0] < w[1]));
        assert!(ISO_4217
            .iter()
            .all(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase())));
    }

    #[test]
    fn real_codes_pass() {
        for c in ["EUR", "USD", "GBP", "JPY", "CHF", "SEK", "AED", "ZAR"] {
            assert_eq!(validate_currency(c), Ok(()), "{c}");
        }
    }

    #[test]
    fn malformed_codes_fail_with_format_message() {
        for c in ["", "EU", "EURO", "eur", "Eur", "E1R", "€"] {
            let e = validate_currency(c).unwrap_err();
            assert!(e.contains("3-letter"), "{c}: {e}");
        }
    }

    #[test]
    fn unknown_codes_fail_with_iso_message() {
        for c in ["ABC", "EUO", "XXX", "XTS", "HRK"] {
            assert_eq!(
                validate_currency(c),
                Err("is not a current ISO 4217 currency code"),
                "{c}"
            );
        }
    }

    #[test]
    fn amounts() {
        assert!(validate_amount(0).is_ok());
        assert!(validate_amount(1999).is_ok());
        assert!(validate_amount(MAX_AMOUNT_MINOR).is_ok());
        assert_eq!(validate_amount(-1).unwrap_err(), "must not be negative");
        assert!(validate_amount(MAX_AMOUNT_MINOR + 1).is_err());
        assert!(validate_amount(i64::MAX).is_err());
    }

    #[test]
    fn money_json_shape() {
        let m = Money {
            amount_minor: 1999,
            currency: "EUR".into(),
        };
        assert_eq!(
            serde_json::to_value(&m).unwrap(),
            serde_json::json!({"amount_minor": 1999, "currency": "EUR"})
        );
    }
}
