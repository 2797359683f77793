//! The single table on DynamoDB: `pk`/`sk` strings, the body as a JSON
//! string attribute, `version` and the TTL attribute `expires_at` as numbers.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem};
use dtg_app::store::{
    Condition, Item, MAX_TRANSACTION_OPS, Page, Result, StoreError, Table, Timestamp, TransactOp,
};

use crate::{sdk_error, translate};

type Attrs = HashMap<String, AttributeValue>;

/// The single table on DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoTable {
    client: Client,
    table: String,
}

impl DynamoTable {
    /// A table adapter over a client, for the named table.
    #[must_use]
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Creates the table (on-demand billing) if it does not exist; for local
    /// runs and tests (production tables come from the SAM template).
    ///
    /// # Errors
    /// [`StoreError::Unexpected`] when the table cannot be created.
    pub async fn create_if_missing(&self) -> Result<()> {
        use aws_sdk_dynamodb::types::{
            AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        };
        if self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .is_ok()
        {
            return Ok(());
        }
        let unexpected =
            |e: aws_sdk_dynamodb::error::BuildError| StoreError::Unexpected(Box::new(e));
        let key = |name: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
        };
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
        };
        self.client
            .create_table()
            .table_name(&self.table)
            .key_schema(key("pk", KeyType::Hash).map_err(unexpected)?)
            .key_schema(key("sk", KeyType::Range).map_err(unexpected)?)
            .attribute_definitions(attr("pk").map_err(unexpected)?)
            .attribute_definitions(attr("sk").map_err(unexpected)?)
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    fn key(pk: &str, sk: &str) -> Attrs {
        HashMap::from([
            ("pk".to_owned(), AttributeValue::S(pk.to_owned())),
            ("sk".to_owned(), AttributeValue::S(sk.to_owned())),
        ])
    }
}

fn to_attrs(item: &Item) -> Result<Attrs> {
    let body =
        serde_json::to_string(&item.body).map_err(|e| StoreError::Unexpected(Box::new(e)))?;
    let mut attrs = DynamoTable::key(&item.pk, &item.sk);
    attrs.insert("body".to_owned(), AttributeValue::S(body));
    attrs.insert(
        "version".to_owned(),
        AttributeValue::N(item.version.to_string()),
    );
    if let Some(at) = item.expires_at {
        attrs.insert("expires_at".to_owned(), AttributeValue::N(at.to_string()));
    }
    Ok(attrs)
}

fn from_attrs(attrs: &Attrs) -> Result<Item> {
    let text = |name: &str| match attrs.get(name) {
        Some(AttributeValue::S(s)) => Ok(s.clone()),
        _ => Err(StoreError::Invalid(format!(
            "stored item lacks the string attribute {name}"
        ))),
    };
    let number = |name: &str| match attrs.get(name) {
        Some(AttributeValue::N(n)) => n
            .parse::<i64>()
            .map(Some)
            .map_err(|e| StoreError::Unexpected(Box::new(e))),
        _ => Ok(None),
    };
    let body =
        serde_json::from_str(&text("body")?).map_err(|e| StoreError::Unexpected(Box::new(e)))?;
    Ok(Item {
        pk: text("pk")?,
        sk: text("sk")?,
        body,
        version: number("version")?
            .and_then(|v| u64::try_from(v).ok())
            .unwrap_or(0),
        expires_at: number("expires_at")?,
    })
}

fn live(item: &Item, now: Timestamp) -> bool {
    item.expires_at.is_none_or(|at| at > now)
}

/// The condition expression and its values; `None` for no condition.
fn condition(condition: Condition, now: Timestamp) -> Option<(String, Attrs)> {
    let now_value = (":now".to_owned(), AttributeValue::N(now.to_string()));
    match condition {
        Condition::None => None,
        // An expired item counts as absent, as it does for reads.
        Condition::Absent => Some((
            "attribute_not_exists(pk) OR expires_at <= :now".to_owned(),
            HashMap::from([now_value]),
        )),
        Condition::VersionIs(v) => Some((
            "version = :v AND (attribute_not_exists(expires_at) OR expires_at > :now)".to_owned(),
            HashMap::from([
                now_value,
                (":v".to_owned(), AttributeValue::N(v.to_string())),
            ]),
        )),
    }
}

fn conflict(pk: &str, sk: &str) -> StoreError {
    StoreError::Conflict {
        pk: pk.to_owned(),
        sk: sk.to_owned(),
    }
}

impl Table for DynamoTable {
    async fn get(&self, pk: &str, sk: &str, now: Timestamp) -> Result<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        match out.item() {
            Some(attrs) => {
                let item = from_attrs(attrs)?;
                Ok(live(&item, now).then_some(item))
            }
            None => Ok(None),
        }
    }

    async fn put(&self, item: Item, cond: Condition, now: Timestamp) -> Result<()> {
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_attrs(&item)?));
        if let Some((expression, values)) = condition(cond, now) {
            request = request
                .condition_expression(expression)
                .set_expression_attribute_values(Some(values));
        }
        request.send().await.map_err(|e| {
            let code = e.code().map(str::to_owned);
            if code.as_deref() == Some("ConditionalCheckFailedException") {
                conflict(&item.pk, &item.sk)
            } else {
                translate(e, code.as_deref())
            }
        })?;
        Ok(())
    }

    async fn query(
        &self,
        pk: &str,
        prefix: &str,
        start: Option<String>,
        now: Timestamp,
    ) -> Result<Page> {
        // `next` is the last sort key, hex-encoded; anything else was not given out by us.
        let start = match start {
            None => None,
            Some(token) => Some(
                hex::decode(&token)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .filter(|sk| sk.starts_with(prefix))
                    .ok_or_else(|| {
                        StoreError::Invalid(format!("'{token}' is not a page token of this query"))
                    })?,
            ),
        };
        let mut values = HashMap::from([
            (":pk".to_owned(), AttributeValue::S(pk.to_owned())),
            (":now".to_owned(), AttributeValue::N(now.to_string())),
        ]);
        // DynamoDB refuses begins_with on an empty string: no prefix, whole partition.
        let key_condition = if prefix.is_empty() {
            "pk = :pk"
        } else {
            values.insert(":p".to_owned(), AttributeValue::S(prefix.to_owned()));
            "pk = :pk AND begins_with(sk, :p)"
        };
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .key_condition_expression(key_condition)
            .filter_expression("attribute_not_exists(expires_at) OR expires_at > :now")
            .set_expression_attribute_values(Some(values))
            .set_exclusive_start_key(start.map(|sk| Self::key(pk, &sk)))
            .send()
            .await
            .map_err(sdk_error)?;
        let items = out
            .items()
            .iter()
            .map(from_attrs)
            .collect::<Result<Vec<_>>>()?;
        let next = out.last_evaluated_key().and_then(|k| match k.get("sk") {
            Some(AttributeValue::S(sk)) => Some(hex::encode(sk)),
            _ => None,
        });
        Ok(Page { items, next })
    }

    async fn delete(&self, pk: &str, sk: &str, cond: Condition, now: Timestamp) -> Result<()> {
        let mut request = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(pk, sk)));
        if let Some((expression, values)) = condition(cond, now) {
            request = request
                .condition_expression(expression)
                .set_expression_attribute_values(Some(values));
        }
        request.send().await.map_err(|e| {
            let code = e.code().map(str::to_owned);
            if code.as_deref() == Some("ConditionalCheckFailedException") {
                conflict(pk, sk)
            } else {
                translate(e, code.as_deref())
            }
        })?;
        Ok(())
    }

    async fn transact(&self, ops: Vec<TransactOp>, now: Timestamp) -> Result<()> {
        if ops.len() > MAX_TRANSACTION_OPS {
            return Err(StoreError::Invalid(format!(
                "{} operations in one transaction; at most {MAX_TRANSACTION_OPS}",
                ops.len()
            )));
        }
        if ops.is_empty() {
            return Ok(());
        }
        let mut keys = Vec::with_capacity(ops.len());
        // The key of each write sent, to name the one whose condition failed.
        let mut sent: Vec<(String, String)> = Vec::with_capacity(ops.len());
        let mut items = Vec::with_capacity(ops.len());
        let build = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Unexpected(Box::new(e));
        for op in &ops {
            let (pk, sk) = match op {
                TransactOp::Put(item, _) => (item.pk.clone(), item.sk.clone()),
                TransactOp::Delete { pk, sk, .. } | TransactOp::Check { pk, sk, .. } => {
                    (pk.clone(), sk.clone())
                }
            };
            if keys.contains(&(pk.clone(), sk.clone())) {
                return Err(StoreError::Invalid(format!(
                    "two operations on {pk} {sk} in one transaction"
                )));
            }
            keys.push((pk.clone(), sk.clone()));
            let write = match op {
                TransactOp::Put(item, cond) => {
                    let mut put = Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(to_attrs(item)?));
                    if let Some((expression, values)) = condition(*cond, now) {
                        put = put
                            .condition_expression(expression)
                            .set_expression_attribute_values(Some(values));
                    }
                    TransactWriteItem::builder()
                        .put(put.build().map_err(build)?)
                        .build()
                }
                TransactOp::Delete {
                    condition: cond, ..
                } => {
                    let mut delete = Delete::builder()
                        .table_name(&self.table)
                        .set_key(Some(Self::key(&pk, &sk)));
                    if let Some((expression, values)) = condition(*cond, now) {
                        delete = delete
                            .condition_expression(expression)
                            .set_expression_attribute_values(Some(values));
                    }
                    TransactWriteItem::builder()
                        .delete(delete.build().map_err(build)?)
                        .build()
                }
                TransactOp::Check {
                    condition: cond, ..
                } => {
                    let Some((expression, values)) = condition(*cond, now) else {
                        continue;
                    };
                    let check = ConditionCheck::builder()
                        .table_name(&self.table)
                        .set_key(Some(Self::key(&pk, &sk)))
                        .condition_expression(expression)
                        .set_expression_attribute_values(Some(values));
                    TransactWriteItem::builder()
                        .condition_check(check.build().map_err(build)?)
                        .build()
                }
            };
            items.push(write);
            sent.push((pk, sk));
        }
        if items.is_empty() {
            return Ok(());
        }
        self.client.transact_write_items().set_transact_items(Some(items)).send().await.map_err(|e| {
            let code = e.code().map(str::to_owned);
            if code.as_deref() == Some("TransactionCanceledException") {
                let failed = match e.as_service_error() {
                    Some(aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(t)) => t
                        .cancellation_reasons()
                        .iter()
                        .position(|r| r.code() == Some("ConditionalCheckFailed")),
                    _ => None,
                };
                if let Some(i) = failed.or(Some(0)) {
                    let (pk, sk) = sent.get(i).cloned().unwrap_or_default();
                    return conflict(&pk, &sk);
                }
            }
            translate(e, code.as_deref())
        })?;
        Ok(())
    }
}
