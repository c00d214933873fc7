//! Finding a tier's usage plan in the stack's outputs (CloudFormation
//! `DescribeStacks`): tier `premium` is the output `PartnerUsagePlanPremium`.
//! A tier added to template.yaml with an output of that name works here
//! without a change.

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::error::{DisplayErrorContext, ProvideErrorMetadata};

/// The outputs' common prefix.
pub const OUTPUT_PREFIX: &str = "PartnerUsagePlan";

/// Why the tier's plan could not be found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StackError {
    /// A tier name that cannot name an output.
    #[error("--tier {0:?} must be 1-32 lowercase letters and digits, starting with a letter")]
    TierName(String),
    /// The stack does not exist.
    #[error("stack {0:?} does not exist")]
    UnknownStack(String),
    /// The stack has no output for the tier.
    #[error("stack {stack:?} has no output {output} for tier {tier:?}; its tiers: {available}")]
    UnknownTier {
        /// The stack.
        stack: String,
        /// The tier asked for.
        tier: String,
        /// The output looked for.
        output: String,
        /// The tiers it has.
        available: String,
    },
    /// Anything else.
    #[error("CloudFormation DescribeStacks failed: {0}")]
    Service(String),
}

/// The output key of `tier`: `PartnerUsagePlan` + the tier capitalised.
pub fn output_key(tier: &str) -> Result<String, StackError> {
    let mut chars = tier.chars();
    let ok = (1..=32).contains(&tier.len())
        && tier.starts_with(|c: char| c.is_ascii_lowercase())
        && tier
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    match chars.next() {
        Some(first) if ok => Ok(format!(
            "{OUTPUT_PREFIX}{}{}",
            first.to_ascii_uppercase(),
            chars.as_str()
        )),
        _ => Err(StackError::TierName(tier.to_owned())),
    }
}

/// The tier an output key names, if it is a tier's.
pub fn tier_of(output_key: &str) -> Option<String> {
    let rest = output_key.strip_prefix(OUTPUT_PREFIX)?;
    let mut chars = rest.chars();
    let first = chars.next()?;
    first
        .is_ascii_uppercase()
        .then(|| format!("{}{}", first.to_ascii_lowercase(), chars.as_str()))
}

/// The usage plan id of `tier` in `stack`'s outputs.
pub async fn plan_for_tier(client: &Client, stack: &str, tier: &str) -> Result<String, StackError> {
    let wanted = output_key(tier)?;
    let out = client
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| match e.as_service_error() {
            // CloudFormation answers an unknown stack with a ValidationError.
            Some(s) if s.code() == Some("ValidationError") => {
                StackError::UnknownStack(stack.to_owned())
            }
            _ => StackError::Service(DisplayErrorContext(e).to_string()),
        })?;
    let outputs = out
        .stacks()
        .first()
        .map(|s| s.outputs())
        .ok_or_else(|| StackError::UnknownStack(stack.to_owned()))?;
    if let Some(value) = outputs
        .iter()
        .find(|o| o.output_key() == Some(wanted.as_str()))
        .and_then(|o| o.output_value())
    {
        return Ok(value.to_owned());
    }
    let available: Vec<String> = outputs
        .iter()
        .filter_map(|o| o.output_key().and_then(tier_of))
        .collect();
    Err(StackError::UnknownTier {
        stack: stack.to_owned(),
        tier: tier.to_owned(),
        output: wanted,
        available: if available.is_empty() {
            "none".to_owned()
        } else {
            available.join(", ")
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tier_names_its_output_and_back() {
        assert_eq!(output_key("premium").unwrap(), "PartnerUsagePlanPremium");
        assert_eq!(output_key("gold2").unwrap(), "PartnerUsagePlanGold2");
        assert_eq!(
            tier_of("PartnerUsagePlanStandard").as_deref(),
            Some("standard")
        );
        assert_eq!(tier_of("PartnerKeysSecretArn"), None);
        for bad in ["", "Premium", "2x", "pre-mium", &"a".repeat(33)] {
            assert_eq!(output_key(bad), Err(StackError::TierName(bad.to_owned())));
        }
    }
}
