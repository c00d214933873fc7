//! [`DynamoDbStore`]: the [`ItemStore`] over a DynamoDB table.
//!
//! Attributes of an item: `pk`, `sk`, `id`, `name`, `description` (absent when
//! none), `tags` (a list, possibly empty), `createdAt`, `updatedAt`, `version`
//! (number). Attributes of an idempotency record: `pk`, `sk` (`IDEM#<key>`),
//! `requestHash`, `itemId`, `item` (the created item as JSON), `expiresAt`
//! (epoch seconds; the table's TTL attribute).
//!
//! DynamoDB actions used: `GetItem`, `PutItem`, `DeleteItem`, `Query`,
//! `TransactWriteItems`.

use policies::Owner;
use std::collections::HashMap;
use std::error::Error;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};

use super::{BoxError, IdempotencyRecord, ItemStore, Page, StoreError};
use crate::item::{Item, ItemId};

type Attrs = HashMap<String, AttributeValue>;

/// Items in a DynamoDB table with string keys `pk` and `sk`.
#[derive(Debug, Clone)]
pub struct DynamoDbStore {
    client: Client,
    table: String,
}

impl DynamoDbStore {
    /// A store over `table`, sharing `client` (build it once per cold start).
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoDbStore {
            client,
            table: table.into(),
        }
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table this store expects, as `template.yaml` declares it:
    /// string keys `pk` (hash) and `sk` (range), on-demand billing, TTL on
    /// `expiresAt`. For tests and local runs against a stand-in such as moto
    /// server; deployed stacks get their table from the template.
    pub async fn create_table(client: &Client, table: &str) -> Result<(), BoxError> {
        use aws_sdk_dynamodb::types::{
            AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
            TimeToLiveSpecification,
        };
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
        };
        let key = |name: &str, kind| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
        };
        client
            .create_table()
            .table_name(table)
            .attribute_definitions(attr("pk")?)
            .attribute_definitions(attr("sk")?)
            .key_schema(key("pk", KeyType::Hash)?)
            .key_schema(key("sk", KeyType::Range)?)
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await?;
        client
            .update_time_to_live()
            .table_name(table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name("expiresAt")
                    .enabled(true)
                    .build()?,
            )
            .send()
            .await?;
        Ok(())
    }

    async fn get_attrs(&self, pk: String, sk: String) -> Result<Option<Attrs>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk))
            // Strong reads: an ETag just returned by a write must match.
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        Ok(out.item)
    }

    async fn get_record(
        &self,
        owner: &Owner,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        self.get_attrs(partition(owner), idem_key(key))
            .await?
            .map(|a| record_from_attrs(key, &a))
            .transpose()
    }

    /// After a conditional write failed: the version now stored, or
    /// `NotFound`. Uses the old item DynamoDB returned with the failure
    /// (`ReturnValuesOnConditionCheckFailure=ALL_OLD`); without one, a strong
    /// read decides, so a backend that returns no old item is still right.
    async fn explain_condition_failure(
        &self,
        owner: &Owner,
        id: &str,
        old: Option<&Attrs>,
        expected: Option<u64>,
    ) -> StoreError {
        let attrs = match old {
            Some(a) => Some(a.clone()),
            None => match self.get_attrs(partition(owner), item_key(id)).await {
                Ok(a) => a,
                Err(e) => return e,
            },
        };
        match (attrs, expected) {
            (None, _) => StoreError::NotFound,
            (Some(a), Some(expected)) => match number(&a, "version") {
                Ok(actual) => StoreError::VersionMismatch { expected, actual },
                Err(e) => e,
            },
            // A condition of bare existence failed, yet the item is there: it
            // came back between the write and the read; report it as gone.
            (Some(_), None) => StoreError::NotFound,
        }
    }
}

impl ItemStore for DynamoDbStore {
    async fn create(
        &self,
        owner: &Owner,
        item: &Item,
        idempotency: Option<&IdempotencyRecord>,
        now: u64,
    ) -> Result<(), StoreError> {
        let attrs = item_to_attrs(owner, item);
        let Some(record) = idempotency else {
            return match self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(attrs))
                .condition_expression("attribute_not_exists(pk)")
                .send()
                .await
            {
                Ok(_) => Ok(()),
                Err(SdkError::ServiceError(e))
                    if matches!(e.err(), PutItemError::ConditionalCheckFailedException(_)) =>
                {
                    Err(StoreError::AlreadyExists)
                }
                Err(e) => Err(classify(e)),
            };
        };

        // Item and record in one transaction: with two separate writes a crash
        // in between leaves either a record pointing at no item (a retry would
        // return an item that was never stored) or an item without a record (a
        // retry would create a duplicate). The record may replace an expired
        // one that TTL has not deleted yet.
        let put_item = Put::builder()
            .table_name(&self.table)
            .set_item(Some(attrs))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(|e| StoreError::Backend(Box::new(e)))?;
        let put_record = Put::builder()
            .table_name(&self.table)
            .set_item(Some(record_to_attrs(owner, record)?))
            .condition_expression("attribute_not_exists(pk) OR expiresAt <= :now")
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .build()
            .map_err(|e| StoreError::Backend(Box::new(e)))?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put_item).build())
            .transact_items(TransactWriteItem::builder().put(put_record).build())
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(()),
            Err(e) => e,
        };
        let reasons: Vec<Option<String>> = match &err {
            SdkError::ServiceError(e) => match e.err() {
                TransactWriteItemsError::TransactionCanceledException(c) => c
                    .cancellation_reasons()
                    .iter()
                    .map(|r| r.code().map(str::to_owned))
                    .collect(),
                _ => return Err(classify(err)),
            },
            _ => return Err(classify(err)),
        };
        let reasons: Vec<Option<&str>> = reasons.iter().map(Option::as_deref).collect();
        match cancellation(&reasons) {
            Cancelled::KeyTaken => match self.get_record(owner, &record.key).await? {
                Some(live) if live.expires_at > now => {
                    Err(StoreError::IdempotencyKeyUsed(Box::new(live)))
                }
                // Gone or expired since the check: the other request's state
                // is unclear, so let the client retry.
                _ => Err(StoreError::IdempotencyKeyInFlight),
            },
            Cancelled::IdTaken => Err(StoreError::AlreadyExists),
            Cancelled::Conflict => Err(StoreError::IdempotencyKeyInFlight),
            Cancelled::Other(Class::Throttled) => Err(StoreError::Throttled(Box::new(err))),
            Cancelled::Other(Class::Unavailable) => Err(StoreError::Unavailable(Box::new(err))),
            Cancelled::Other(Class::Other) => Err(StoreError::Backend(Box::new(err))),
        }
    }

    async fn get(&self, owner: &Owner, id: &ItemId) -> Result<Option<Item>, StoreError> {
        self.get_attrs(partition(owner), item_key(id.as_str()))
            .await?
            .map(|a| item_from_attrs(&a))
            .transpose()
    }

    async fn list(
        &self,
        owner: &Owner,
        limit: usize,
        after: Option<&ItemId>,
    ) -> Result<Page, StoreError> {
        let pk = partition(owner);
        let start = after.map(|id| {
            HashMap::from([
                ("pk".to_owned(), AttributeValue::S(pk.clone())),
                ("sk".to_owned(), AttributeValue::S(item_key(id.as_str()))),
            ])
        });
        // One more than asked: if it comes back, there is a next page. This
        // spares clients the empty last page DynamoDB's LastEvaluatedKey gives
        // when a page ends exactly at the last item.
        let fetch = i32::try_from(limit.saturating_add(1)).unwrap_or(i32::MAX);
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :items)")
            .expression_attribute_values(":pk", AttributeValue::S(pk))
            .expression_attribute_values(":items", AttributeValue::S(ITEM_PREFIX.to_owned()))
            .set_exclusive_start_key(start)
            .limit(fetch)
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        let mut items = out
            .items()
            .iter()
            .map(item_from_attrs)
            .collect::<Result<Vec<_>, _>>()?;
        let more = if items.len() > limit {
            items.truncate(limit);
            true
        } else {
            // Fewer than asked but a LastEvaluatedKey: the 1 MB page limit cut
            // the query short, and more items may follow.
            out.last_evaluated_key().is_some() && !items.is_empty()
        };
        Ok(Page { items, more })
    }

    async fn replace(
        &self,
        owner: &Owner,
        item: &Item,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item_to_attrs(owner, item)))
            // False when the item is missing too: no attribute to compare.
            .condition_expression("version = :expected")
            .expression_attribute_values(
                ":expected",
                AttributeValue::N(expected_version.to_string()),
            )
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e)) => match e.err() {
                PutItemError::ConditionalCheckFailedException(c) => Err(self
                    .explain_condition_failure(owner, &item.id, c.item(), Some(expected_version))
                    .await),
                _ => Err(classify(SdkError::ServiceError(e))),
            },
            Err(e) => Err(classify(e)),
        }
    }

    async fn delete(
        &self,
        owner: &Owner,
        id: &ItemId,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError> {
        let request = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(partition(owner)))
            .key("sk", AttributeValue::S(item_key(id.as_str())))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let request = match expected_version {
            Some(v) => request
                .condition_expression("version = :expected")
                .expression_attribute_values(":expected", AttributeValue::N(v.to_string())),
            None => request.condition_expression("attribute_exists(pk)"),
        };
        match request.send().await {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e)) => match e.err() {
                DeleteItemError::ConditionalCheckFailedException(c) => Err(self
                    .explain_condition_failure(owner, id.as_str(), c.item(), expected_version)
                    .await),
                _ => Err(classify(SdkError::ServiceError(e))),
            },
            Err(e) => Err(classify(e)),
        }
    }
}

const ITEM_PREFIX: &str = "ITEM#";

fn partition(owner: &Owner) -> String {
    format!("OWNER#{owner}")
}

fn item_key(id: &str) -> String {
    format!("{ITEM_PREFIX}{id}")
}

fn idem_key(key: &str) -> String {
    format!("IDEM#{key}")
}

/// Why the create transaction (item first, record second) was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cancelled {
    /// The record's condition failed: a live record holds the key.
    KeyTaken,
    /// The item's condition failed: the id is taken.
    IdTaken,
    /// Another transaction on the same items is in flight.
    Conflict,
    /// Something else, classified by the first reason that is not `None`.
    Other(Class),
}

/// Reads the cancellation reasons, one per action in order.
fn cancellation(reasons: &[Option<&str>]) -> Cancelled {
    let code = |i: usize| reasons.get(i).copied().flatten();
    match (code(0), code(1)) {
        (_, Some("ConditionalCheckFailed")) => Cancelled::KeyTaken,
        (Some("ConditionalCheckFailed"), _) => Cancelled::IdTaken,
        (Some("TransactionConflict"), _) | (_, Some("TransactionConflict")) => Cancelled::Conflict,
        _ => Cancelled::Other(classify_code(
            reasons.iter().copied().flatten().find(|c| *c != "None"),
        )),
    }
}

/// What an SDK error means for the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// Retrying later helps: 503.
    Throttled,
    /// The service failed or could not be reached: 503.
    Unavailable,
    /// Anything else: 500.
    Other,
}

/// Classifies a DynamoDB error code (also the codes of transaction
/// cancellation reasons).
pub(crate) fn classify_code(code: Option<&str>) -> Class {
    match code {
        Some(
            "ProvisionedThroughputExceededException"
            | "ProvisionedThroughputExceeded"
            | "ThrottlingException"
            | "ThrottlingError"
            | "Throttling"
            | "RequestLimitExceeded",
        ) => Class::Throttled,
        Some("InternalServerError" | "ServiceUnavailable" | "InternalFailure") => {
            Class::Unavailable
        }
        _ => Class::Other,
    }
}

/// Maps an SDK error to a store error, keeping it as the source. The SDK has
/// already retried throttling and transient errors with backoff.
fn classify<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let class = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => Class::Unavailable,
        _ => classify_code(err.code()),
    };
    let source: BoxError = Box::new(err);
    match class {
        Class::Throttled => StoreError::Throttled(source),
        Class::Unavailable => StoreError::Unavailable(source),
        Class::Other => StoreError::Backend(source),
    }
}

fn item_to_attrs(owner: &Owner, item: &Item) -> Attrs {
    let mut a = HashMap::with_capacity(9);
    a.insert("pk".into(), AttributeValue::S(partition(owner)));
    a.insert("sk".into(), AttributeValue::S(item_key(&item.id)));
    a.insert("id".into(), AttributeValue::S(item.id.clone()));
    a.insert("name".into(), AttributeValue::S(item.name.clone()));
    if let Some(d) = &item.description {
        a.insert("description".into(), AttributeValue::S(d.clone()));
    }
    a.insert(
        "tags".into(),
        AttributeValue::L(item.tags.iter().cloned().map(AttributeValue::S).collect()),
    );
    a.insert(
        "createdAt".into(),
        AttributeValue::S(item.created_at.clone()),
    );
    a.insert(
        "updatedAt".into(),
        AttributeValue::S(item.updated_at.clone()),
    );
    a.insert(
        "version".into(),
        AttributeValue::N(item.version.to_string()),
    );
    a
}

fn string(a: &Attrs, name: &str) -> Result<String, StoreError> {
    match a.get(name) {
        Some(AttributeValue::S(s)) => Ok(s.clone()),
        _ => Err(StoreError::Corrupt(format!(
            "attribute {name} is not a string"
        ))),
    }
}

fn number(a: &Attrs, name: &str) -> Result<u64, StoreError> {
    match a.get(name) {
        Some(AttributeValue::N(n)) => n
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("attribute {name} is not an integer"))),
        _ => Err(StoreError::Corrupt(format!(
            "attribute {name} is not a number"
        ))),
    }
}

fn item_from_attrs(a: &Attrs) -> Result<Item, StoreError> {
    let description = match a.get("description") {
        None | Some(AttributeValue::Null(_)) => None,
        Some(AttributeValue::S(s)) => Some(s.clone()),
        Some(_) => {
            return Err(StoreError::Corrupt(
                "attribute description is not a string".into(),
            ));
        }
    };
    let tags = match a.get("tags") {
        None => Vec::new(),
        Some(AttributeValue::L(list)) => list
            .iter()
            .map(|v| match v {
                AttributeValue::S(s) => Ok(s.clone()),
                _ => Err(StoreError::Corrupt("a tag is not a string".into())),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(StoreError::Corrupt("attribute tags is not a list".into())),
    };
    Ok(Item {
        id: string(a, "id")?,
        name: string(a, "name")?,
        description,
        tags,
        created_at: string(a, "createdAt")?,
        updated_at: string(a, "updatedAt")?,
        version: number(a, "version")?,
    })
}

fn record_to_attrs(owner: &Owner, r: &IdempotencyRecord) -> Result<Attrs, StoreError> {
    let item = serde_json::to_string(&r.item).map_err(|e| StoreError::Backend(Box::new(e)))?;
    Ok(HashMap::from([
        ("pk".into(), AttributeValue::S(partition(owner))),
        ("sk".into(), AttributeValue::S(idem_key(&r.key))),
        (
            "requestHash".into(),
            AttributeValue::S(r.fingerprint.clone()),
        ),
        ("itemId".into(), AttributeValue::S(r.item.id.clone())),
        ("item".into(), AttributeValue::S(item)),
        (
            "expiresAt".into(),
            AttributeValue::N(r.expires_at.to_string()),
        ),
    ]))
}

fn record_from_attrs(key: &str, a: &Attrs) -> Result<IdempotencyRecord, StoreError> {
    let item: Item = serde_json::from_str(&string(a, "item")?)
        .map_err(|_| StoreError::Corrupt("attribute item is not an item".into()))?;
    Ok(IdempotencyRecord {
        key: key.to_owned(),
        fingerprint: string(a, "requestHash")?,
        item,
        expires_at: number(a, "expiresAt")?,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn item() -> Item {
        Item {
            id: "0193".into(),
            name: "n".into(),
            description: Some("d".into()),
            tags: vec!["a".into(), "b".into()],
            created_at: "c".into(),
            updated_at: "u".into(),
            version: 3,
        }
    }

    #[test]
    fn items_are_stored_under_the_contract_keys_and_read_back() {
        let a = item_to_attrs(&Owner::user("alice").unwrap(), &item());
        assert_eq!(a["pk"], AttributeValue::S("OWNER#user:alice".into()));
        assert_eq!(a["sk"], AttributeValue::S("ITEM#0193".into()));
        assert_eq!(a["version"], AttributeValue::N("3".into()));
        assert_eq!(item_from_attrs(&a).unwrap(), item());
    }

    #[test]
    fn a_user_whose_sub_names_a_partner_gets_another_partition() {
        let user = item_to_attrs(&Owner::user("partner:acme").unwrap(), &item());
        let partner = item_to_attrs(&Owner::partner("acme").unwrap(), &item());
        assert_eq!(
            user["pk"],
            AttributeValue::S("OWNER#user:partner:acme".into())
        );
        assert_eq!(
            partner["pk"],
            AttributeValue::S("OWNER#partner:acme".into())
        );
    }

    #[test]
    fn an_item_without_description_has_no_such_attribute() {
        let mut i = item();
        i.description = None;
        i.tags.clear();
        let a = item_to_attrs(&Owner::user("o").unwrap(), &i);
        assert!(!a.contains_key("description"));
        assert_eq!(item_from_attrs(&a).unwrap(), i);
    }

    #[test]
    fn malformed_stored_items_are_corrupt_not_a_panic() {
        let mut a = item_to_attrs(&Owner::user("o").unwrap(), &item());
        a.insert("version".into(), AttributeValue::S("x".into()));
        assert!(matches!(item_from_attrs(&a), Err(StoreError::Corrupt(_))));
        a.remove("name");
        assert!(matches!(item_from_attrs(&a), Err(StoreError::Corrupt(_))));
    }

    #[test]
    fn idempotency_records_carry_the_ttl_attribute_and_read_back() {
        let r = IdempotencyRecord {
            key: "k-1".into(),
            fingerprint: "abc".into(),
            item: item(),
            expires_at: 1_800_000_000,
        };
        let a = record_to_attrs(&Owner::partner("o").unwrap(), &r).unwrap();
        assert_eq!(a["sk"], AttributeValue::S("IDEM#k-1".into()));
        assert_eq!(a["expiresAt"], AttributeValue::N("1800000000".into()));
        assert_eq!(record_from_attrs("k-1", &a).unwrap(), r);
    }

    #[test]
    fn cancelled_creates_are_told_apart_by_their_reasons() {
        let c = |r: &[Option<&str>]| cancellation(r);
        let ccf = Some("ConditionalCheckFailed");
        let none = Some("None");
        assert_eq!(c(&[none, ccf]), Cancelled::KeyTaken);
        // Both taken: the key wins, so a retry is answered from its record.
        assert_eq!(c(&[ccf, ccf]), Cancelled::KeyTaken);
        assert_eq!(c(&[ccf, none]), Cancelled::IdTaken);
        assert_eq!(c(&[none, Some("TransactionConflict")]), Cancelled::Conflict);
        assert_eq!(
            c(&[none, Some("ThrottlingError")]),
            Cancelled::Other(Class::Throttled)
        );
        assert_eq!(
            c(&[Some("ProvisionedThroughputExceeded"), none]),
            Cancelled::Other(Class::Throttled)
        );
        assert_eq!(
            c(&[none, Some("ValidationError")]),
            Cancelled::Other(Class::Other)
        );
        assert_eq!(c(&[]), Cancelled::Other(Class::Other));
    }

    #[test]
    fn throttling_and_service_codes_are_retryable_and_the_rest_is_not() {
        for code in [
            "ProvisionedThroughputExceededException",
            "ThrottlingException",
            "RequestLimitExceeded",
            "ThrottlingError",
        ] {
            assert_eq!(classify_code(Some(code)), Class::Throttled, "{code}");
        }
        assert_eq!(
            classify_code(Some("InternalServerError")),
            Class::Unavailable
        );
        assert_eq!(classify_code(Some("ValidationException")), Class::Other);
        assert_eq!(
            classify_code(Some("ResourceNotFoundException")),
            Class::Other
        );
        assert_eq!(classify_code(None), Class::Other);
    }

    #[test]
    fn sdk_service_errors_are_classified_by_code_and_kept_as_source() {
        use aws_sdk_dynamodb::error::ErrorMetadata;
        use aws_sdk_dynamodb::operation::get_item::GetItemError;
        use aws_sdk_dynamodb::types::error::ProvisionedThroughputExceededException;

        // The raw response plays no part in the classification: `()` stands in.
        let throttled = GetItemError::ProvisionedThroughputExceededException(
            ProvisionedThroughputExceededException::builder()
                .message("slow down")
                .meta(
                    ErrorMetadata::builder()
                        .code("ProvisionedThroughputExceededException")
                        .build(),
                )
                .build(),
        );
        let e = classify(SdkError::service_error(throttled, ()));
        assert!(matches!(&e, StoreError::Throttled(_)));
        // The SDK error is kept as the source, for the log.
        assert!(e.source().is_some());

        let other =
            GetItemError::generic(ErrorMetadata::builder().code("ValidationException").build());
        assert!(matches!(
            classify(SdkError::service_error(other, ())),
            StoreError::Backend(_)
        ));

        let timeout: SdkError<GetItemError, ()> = SdkError::timeout_error("timed out");
        assert!(matches!(classify(timeout), StoreError::Unavailable(_)));
    }
}
