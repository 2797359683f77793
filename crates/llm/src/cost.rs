//! Token prices and exact cost arithmetic.
//!
//! Prices are US dollars per million tokens, written as decimal strings in
//! the price table (`config/prices.json`, or the file `DTG_LLM_PRICES` names)
//! and held as whole micro-dollars per million tokens. A token count times
//! such a price is a whole number of pico-dollars (10^-12 USD), so costs add
//! up exactly, whatever the number of chunks.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::AddAssign;

use serde::{Deserialize, Serialize};

use crate::error::LlmError;
use crate::port::Usage;

/// The built-in price table.
pub const DEFAULT_PRICES: &str = include_str!("../config/prices.json");

/// Prices of one model, in micro-dollars per million tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Price {
    /// Uncached prompt tokens.
    pub input: u64,
    /// Prompt tokens served from the cache.
    pub cached_input: u64,
    /// Answer tokens.
    pub output: u64,
}

impl Price {
    /// What `usage` costs at this price.
    #[must_use]
    pub fn cost(&self, usage: &Usage) -> Cost {
        let cached = usage.cached_tokens.min(usage.input_tokens);
        let uncached = usage.input_tokens - cached;
        Cost {
            pico_usd: u128::from(uncached) * u128::from(self.input)
                + u128::from(cached) * u128::from(self.cached_input)
                + u128::from(usage.output_tokens) * u128::from(self.output),
        }
    }
}

/// An amount of US dollars, exact to the pico-dollar.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Cost {
    /// The amount in 10^-12 USD.
    pub pico_usd: u128,
}

impl AddAssign for Cost {
    fn add_assign(&mut self, other: Self) {
        self.pico_usd += other.pico_usd;
    }
}

impl fmt::Display for Cost {
    /// Dollars to six decimals, rounded half up (`$0.001235`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let micro = (self.pico_usd + 500_000) / 1_000_000;
        write!(f, "${}.{:06}", micro / 1_000_000, micro % 1_000_000)
    }
}

/// Parses a decimal dollar amount (`"2.50"`) into micro-dollars, exactly.
///
/// # Errors
/// [`LlmError::Config`] for anything but digits with at most six decimals.
pub fn parse_micro_usd(text: &str) -> Result<u64, LlmError> {
    let bad = || {
        LlmError::Config(format!(
            "price '{text}' is not a dollar amount with at most six decimals"
        ))
    };
    let (whole, frac) = text.trim().split_once('.').unwrap_or((text.trim(), ""));
    if whole.is_empty() && frac.is_empty()
        || frac.len() > 6
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| bad())?
    };
    let frac: u64 = format!("{frac:0<6}").parse().map_err(|_| bad())?;
    whole
        .checked_mul(1_000_000)
        .and_then(|w| w.checked_add(frac))
        .ok_or_else(bad)
}

#[derive(Debug, Deserialize)]
struct PriceFile {
    models: BTreeMap<String, PriceEntry>,
}

#[derive(Debug, Deserialize)]
struct PriceEntry {
    input: String,
    #[serde(default)]
    cached_input: Option<String>,
    output: String,
}

/// Prices per model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PriceTable {
    models: BTreeMap<String, Price>,
}

impl PriceTable {
    /// The built-in table.
    ///
    /// # Errors
    /// Never for the shipped file; [`LlmError::Config`] if it were broken.
    pub fn builtin() -> Result<Self, LlmError> {
        Self::from_json(DEFAULT_PRICES)
    }

    /// A table from the JSON format of `config/prices.json`.
    ///
    /// # Errors
    /// [`LlmError::Config`] when the JSON or a price is malformed.
    pub fn from_json(json: &str) -> Result<Self, LlmError> {
        let file: PriceFile = serde_json::from_str(json)
            .map_err(|e| LlmError::Config(format!("price table: {e}")))?;
        let mut models = BTreeMap::new();
        for (name, e) in file.models {
            let input = parse_micro_usd(&e.input)?;
            let price = Price {
                input,
                cached_input: e
                    .cached_input
                    .as_deref()
                    .map(parse_micro_usd)
                    .transpose()?
                    .unwrap_or(input),
                output: parse_micro_usd(&e.output)?,
            };
            models.insert(name, price);
        }
        Ok(Self { models })
    }

    /// Adds or replaces a model's price.
    pub fn insert(&mut self, model: impl Into<String>, price: Price) {
        self.models.insert(model.into(), price);
    }

    /// Adds or replaces every model of `other`.
    pub fn extend(&mut self, other: Self) {
        self.models.extend(other.models);
    }

    /// The price of `model`: its own entry, or the longest name it starts with
    /// (`gpt-4o-mini-2024-07-18` is priced as `gpt-4o-mini`).
    #[must_use]
    pub fn price(&self, model: &str) -> Option<Price> {
        if let Some(p) = self.models.get(model) {
            return Some(*p);
        }
        self.models
            .iter()
            .filter(|(name, _)| model.starts_with(name.as_str()))
            .max_by_key(|(name, _)| name.len())
            .map(|(_, p)| *p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_parse_exactly() {
        assert_eq!(parse_micro_usd("2.50").ok(), Some(2_500_000));
        assert_eq!(parse_micro_usd("0.075").ok(), Some(75_000));
        assert_eq!(parse_micro_usd("15").ok(), Some(15_000_000));
        assert!(parse_micro_usd("1.2345678").is_err());
        assert!(parse_micro_usd("-1").is_err());
        assert!(parse_micro_usd(".").is_err());
    }

    #[test]
    fn builtin_table_prices_dated_models_by_prefix() {
        let t = PriceTable::builtin().unwrap_or_default();
        let p = t.price("gpt-4o-mini-2024-07-18");
        assert_eq!(p.map(|p| p.input), Some(150_000));
        assert_eq!(t.price("gpt-4o").map(|p| p.output), Some(10_000_000));
        assert_eq!(t.price("llama3"), None);
    }

    #[test]
    fn cost_is_exact_and_prints_in_dollars() {
        let price = Price {
            input: 150_000,
            cached_input: 75_000,
            output: 600_000,
        };
        let usage = Usage {
            input_tokens: 1_000,
            output_tokens: 500,
            cached_tokens: 200,
        };
        // 800 x 0.15 + 200 x 0.075 + 500 x 0.60 dollars per million.
        let c = price.cost(&usage);
        assert_eq!(c.pico_usd, 800 * 150_000 + 200 * 75_000 + 500 * 600_000);
        assert_eq!(c.to_string(), "$0.000435");
    }
}
