//! The behaviour suite: the contract's semantics, run through the whole
//! handler (event in, response out) against any store. `memory_store.rs` and
//! `dynamodb_store.rs` run every test here against their store.

use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use api::App;
use api::item::{Item, ItemId};
use api::service::Service;
use api::store::{ItemStore, StoreError};
use serde_json::{Value, json};

use super::{ALL, Resp, call, unique_owner};

/// Storage for the suite: each call of `app` is a new handler instance (as a
/// new Lambda instance would be) over the same data.
pub trait Backend {
    type Store: ItemStore;
    /// A new handler instance over the backend's data.
    fn app(&self) -> App<Self::Store> {
        App::new(self.store(), super::codec())
    }
    /// A new store instance over the backend's data.
    fn store(&self) -> Self::Store;
    /// A handler instance whose clock is `clock`.
    fn app_at(&self, clock: fn() -> SystemTime) -> App<Self::Store> {
        App::with_service(Service::with_clock(self.store(), clock), super::codec())
    }
}

/// Instants for the idempotency expiry tests.
fn day_0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}
fn day_0_plus_23h() -> SystemTime {
    day_0() + Duration::from_secs(23 * 3600)
}
fn day_0_plus_25h() -> SystemTime {
    day_0() + Duration::from_secs(25 * 3600)
}

/// Defines one `#[tokio::test]` per suite test, each with a fresh backend
/// from `$backend` (an async expression).
#[macro_export]
macro_rules! behaviour_suite {
    ($backend:expr) => {
        $crate::behaviour_suite!(@tests $backend;
            create_returns_201_with_location_etag_and_server_fields,
            get_returns_the_item_with_its_etag,
            list_pages_through_every_item_in_creation_order,
            list_limit_defaults_to_25_and_is_bounded,
            owners_are_isolated_from_each_other,
            a_cursor_cannot_be_altered_or_replayed_by_another_owner,
            put_replaces_keeps_created_at_and_honours_if_match,
            patch_merges_validates_the_result_and_honours_if_match,
            delete_honours_if_match_and_then_the_item_is_gone,
            racing_writers_with_the_same_if_match_get_one_success_and_one_412,
            racing_deletes_with_the_same_if_match_get_one_204_and_one_412,
            store_writes_are_conditional_on_the_version,
            an_idempotent_retry_returns_the_first_item,
            an_idempotency_key_reused_with_another_body_is_409,
            idempotency_keys_are_per_owner,
            an_idempotency_key_is_honoured_for_24_hours_then_free,
            bad_input_gets_its_status_and_writes_nothing,
            permissions_are_rechecked_and_a_missing_owner_is_refused,
        );
    };
    (@tests $backend:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let backend = $backend;
                $crate::common::suite::$name(&backend).await;
            }
        )*
    };
}

async fn create<B: Backend>(app: &App<B::Store>, owner: &str, body: Value) -> Resp {
    let r = call("POST", "/items")
        .by(owner, ALL)
        .json(body)
        .send(app)
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r
}

async fn list_all<S: ItemStore>(app: &App<S>, owner: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut c = call("GET", "/items").by(owner, ALL).query("limit", "100");
        if let Some(cur) = &cursor {
            c = c.query("cursor", cur);
        }
        let r = c.send(app).await;
        assert_eq!(r.status, 200, "{}", r.body);
        items.extend(r.body["items"].as_array().unwrap().iter().cloned());
        match r.body["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return items,
        }
    }
}

fn id_of(r: &Resp) -> String {
    r.body["id"].as_str().unwrap().to_owned()
}

pub async fn create_returns_201_with_location_etag_and_server_fields<B: Backend>(b: &B) {
    let app = b.app();
    let owner = unique_owner("create");
    let r = create::<B>(
        &app,
        &owner,
        json!({"name": "n", "description": "d", "tags": ["a", "b"],
               "id": "chosen-by-client", "version": 7, "owner": "someone-else",
               "createdAt": "1999-01-01T00:00:00Z"}),
    )
    .await;
    let id = id_of(&r);
    assert_ne!(id, "chosen-by-client");
    assert!(ItemId::parse(&id).is_ok());
    assert_eq!(r.header("location"), Some(format!("items/{id}").as_str()));
    assert_eq!(r.header("etag"), Some("\"1\""));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.body["version"], 1);
    assert_eq!(r.body["name"], "n");
    assert_eq!(r.body["description"], "d");
    assert_eq!(r.body["tags"], json!(["a", "b"]));
    assert_ne!(r.body["createdAt"], "1999-01-01T00:00:00Z");
    assert_eq!(r.body["createdAt"], r.body["updatedAt"]);
    assert!(r.body.get("owner").is_none());
}

pub async fn get_returns_the_item_with_its_etag<B: Backend>(b: &B) {
    let app = b.app();
    let owner = unique_owner("get");
    let created = create::<B>(&app, &owner, json!({"name": "n"})).await;
    let id = id_of(&created);
    let r = call("GET", &format!("/items/{id}"))
        .by(&owner, "items:read")
        .send(&app)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, created.body);
    assert_eq!(r.header("etag"), Some("\"1\""));
    let missing = call("GET", "/items/0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")
        .by(&owner, ALL)
        .send(&app)
        .await;
    missing.problem(404);
}

pub async fn list_pages_through_every_item_in_creation_order<B: Backend>(b: &B) {
    let app = b.app();
    let owner = unique_owner("list");
    let mut ids = Vec::new();
    for i in 0..7 {
        ids.push(id_of(
            &create::<B>(&app, &owner, json!({ "name": format!("n{i}") })).await,
        ));
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut c = call("GET", "/items")
            .by(&owner, "items:read")
            .query("limit", "3");
        if let Some(cur) = &cursor {
            c = c.query("cursor", cur);
        }
        let r = c.send(&app).await;
        assert_eq!(r.status, 200, "{}", r.body);
        pages += 1;
        let items = r.body["items"].as_array().unwrap();
        assert!(items.len() <= 3);
        seen.extend(items.iter().map(|i| i["id"].as_str().unwrap().to_owned()));
        match &r.body["nextCursor"] {
            Value::String(next) => cursor = Some(next.clone()),
            Value::Null => break,
            other => panic!("nextCursor {other}"),
        }
    }
    assert_eq!(pages, 3, "7 items in pages of 3");
    assert_eq!(seen, ids, "every item once, oldest first");

    // A page that ends exactly at the last item says there is no next page.
    let r = call("GET", "/items")
        .by(&owner, ALL)
        .query("limit", "7")
        .send(&app)
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 7);
    assert_eq!(r.body["nextCursor"], Value::Null);
}

pub async fn list_limit_defaults_to_25_and_is_bounded<B: Backend>(b: &B) {
    let app = b.app();
    let owner = unique_owner("limit");
    for i in 0..26 {
        create::<B>(&app, &owner, json!({ "name": format!("n{i}") })).await;
    }
    let r = call("GET", "/items").by(&owner, ALL).send(&app).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 25);
    assert!(r.body["nextCursor"].is_string());
    for bad in ["0", "101", "-1", "ten", "2.5", ""] {
        let r = call("GET", "/items")
            .by(&owner, ALL)
            .query("limit", bad)
            .send(&app)
            .await;
        r.problem(400);
        assert_eq!(r.error_fields(), ["limit"], "limit={bad}");
    }
    let r = call("GET", "/items")
        .by(&owner, ALL)
        .query("limit", "100")
        .send(&app)
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 26);
    assert_eq!(r.body["nextCursor"], Value::Null);
}

pub async fn owners_are_isolated_from_each_other<B: Backend>(b: &B) {
    let app = b.app();
    let alice = unique_owner("alice");
    let bob = unique_owner("bob");
    let id = id_of(&create::<B>(&app, &alice, json!({"name": "secret"})).await);
    let path = format!("/items/{id}");

    // Someone else's item is a 404, exactly like a missing one: no existence leak.
    call("GET", &path)
        .by(&bob, ALL)
        .send(&app)
        .await
        .problem(404);
    call("PUT", &path)
        .by(&bob, ALL)
        .json(json!({"name": "mine now"}))
        .send(&app)
        .await
        .problem(404);
    call("PATCH", &path)
        .by(&bob, ALL)
        .json(json!({"name": "mine now"}))
        .send(&app)
        .await
        .problem(404);
    call("PUT", &path)
        .by(&bob, ALL)
        .header("If-Match", "\"1\"")
        .json(json!({"name": "mine now"}))
        .send(&app)
        .await
        .problem(404);
    call("DELETE", &path)
        .by(&bob, ALL)
        .send(&app)
        .await
        .problem(404);
    call("DELETE", &path)
        .by(&bob, ALL)
        .header("If-Match", "\"1\"")
        .send(&app)
        .await
        .problem(404);
    assert!(list_all(&app, &bob).await.is_empty());

    let items = list_all(&app, &alice).await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["name"], "secret");
    assert_eq!(items[0]["version"], 1);
}

pub async fn a_cursor_cannot_be_altered_or_replayed_by_another_owner<B: Backend>(b: &B) {
    let app = b.app();
    let alice = unique_owner("alice");
    let bob = unique_owner("bob");
    for i in 0..3 {
        create::<B>(&app, &alice, json!({ "name": format!("a{i}") })).await;
        create::<B>(&app, &bob, json!({ "name": format!("b{i}") })).await;
    }
    let r = call("GET", "/items")
        .by(&alice, ALL)
        .query("limit", "1")
        .send(&app)
        .await;
    let cursor = r.body["nextCursor"].as_str().unwrap().to_owned();

    let replay = call("GET", "/items")
        .by(&bob, ALL)
        .query("cursor", &cursor)
        .send(&app)
        .await;
    replay.problem(400);
    assert_eq!(replay.error_fields(), ["cursor"]);

    let mut altered = cursor.clone().into_bytes();
    let i = altered.len() / 2;
    altered[i] = if altered[i] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    let r = call("GET", "/items")
        .by(&alice, ALL)
        .query("cursor", &altered)
        .send(&app)
        .await;
    r.problem(400);
    assert_eq!(r.error_fields(), ["cursor"]);

    let r = call("GET", "/items")
        .by(&alice, ALL)
        .query("cursor", "not a cursor")
        .send(&app)
        .await;
    r.problem(400);

    // The genuine cursor still works for its owner.
    let r = call("GET", "/items")
        .by(&alice, ALL)
        .query("cursor", &cursor)
        .send(&app)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["items"].as_array().unwrap().len(), 2);
}

pub async fn put_replaces_keeps_created_at_and_honours_if_match<B: Backend>(b: &B) {
    let app = b.app();
    let owner = unique_owner("put");
    let created = create::<B>(
        &app,
        &owner,
        json!({"name": "n", "description": "d", "tags": ["t"]}),
    )
    .await;
    let id = id_of(&created);
    let path = format!("/items/{id}");

    let r = call("PUT", &path)
        .by(&owner, ALL)
        .json(json!({"name": "m", "version": 40, "id": "other"}))
        .send(&app)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("etag"), Some("\"2\""));
    assert_eq!(r.body["id"], id);
    assert_eq!(r.body["name"], "m");
    assert!(
        r.body.get("description").is_none(),
        "PUT replaces: description gone"
    );
    assert_eq!(r.body["tags"], json!([]));
    assert_eq!(r.body["version"], 2);
    assert_eq!(r.body["createdAt"], created.body["createdAt"]);

    // A stale If-Match is a 412 and changes nothing.
    let stale = call("PUT", &path)
        .by(&owner, ALL)
        .header("If-Match", "\"1\"")
        .json(json!({"name": "stale"}))
        .send(&app)
        .await;
    stale.problem(412);
    let current = call("GET", &path).by(&owner, ALL).send(&app).await;
    assert_eq!(current.body["name"], "m");
    assert_eq!(current.body["version"], 2);

    // Each precondition that matches moves the item on by one version.
    for (if_match, next_etag) in [
        ("\"2\"", "\"3\""),
        ("\"1\", \"3\", \"7\"", "\"4\""),
        ("*", "\"5\""),
    ] {
        let r = call("PUT", &path)
            .by(&owner, ALL)
            .header("If-Match", if_match)
            .json(json!({"name": if_match}))
            .send(&app)
            .await;
        assert_eq!(r.status, 200, "{if_match}: {}", r.body);
        assert_eq!(r.header("etag"), Some(next_etag), "{if_match}");
    }
    // A weak tag never matches (If-Match compares strongly).
    call("PUT", &path)
        .by(&owner, ALL)
        .header("If-Match", "W/\"5\"")
        .json(json!({"name": "weak"}))
        .send(&app)
        .await
        .problem(412);

    call("PUT", "/items/0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")
        .by(&owner, ALL)
        .json(json!({"name": "n"}))
        .send(&app)
        .await
        .problem(404);
    call("PUT", "/items/0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")
        .by(&owner, ALL)
        .header("If-Match", "\"1\"")
        .json(json!({"name": "n"}))
        .send(&app)
        .await
        .problem(404);
}

pub async fn patch_merges_validates_the_result_and_honours_if_match<B: Backend>(b: &B) {
    let app = b.app();
    let owner = unique_owner("patch");
    let created = create::<B>(
        &app,
        &owner,
        json!({"name": "n", "description": "d", "tags": ["a", "b"]}),
    )
    .await;
    let path = format!("/items/{}", id_of(&created));

    let r = call("PATCH", &path)
        .by(&owner, ALL)
        .header("Content-Type", "application/merge-patch+json")
        .raw_body(r#"{"description": null, "tags": ["c"], "version": 99}"#)
        .send(&app)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["name"], "n");
    assert!(r.body.get("description").is_none());
    assert_eq!(r.body["tags"], json!(["c"]));
    assert_eq!(r.body["version"], 2);
    assert_eq!(r.header("etag"), Some("\"2\""));
    assert_eq!(r.body["createdAt"], created.body["createdAt"]);

    // A patch whose result is invalid is a 400 naming the field; nothing changes.
    let bad = call("PATCH", &path)
        .by(&owner, ALL)
        .json(json!({"name": null, "tags": [1]}))
        .send(&app)
        .await;
    bad.problem(400);
    assert_eq!(bad.error_fields(), ["name", "tags[0]"]);
    let bad = call("PATCH", &path)
        .by(&owner, ALL)
        .json(json!(["name"]))
        .send(&app)
        .await;
    assert_eq!(
        bad.problem(400)["detail"],
        "The body must be a JSON object."
    );

    call("PATCH", &path)
        .by(&owner, ALL)
        .header("If-Match", "\"1\"")
        .json(json!({"name": "stale"}))
        .send(&app)
        .await
        .problem(412);
    let r = call("PATCH", &path)
        .by(&owner, ALL)
        .header("If-Match", "\"2\"")
        .json(json!({"name": "fresh"}))
        .send(&app)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["name"], "fresh");
    assert_eq!(r.body["tags"], json!(["c"]));
    assert_eq!(r.body["version"], 3);

    let current = call("GET", &path).by(&owner, ALL).send(&app).await;
    assert_eq!(current.body, r.body);

    call("PATCH", "/items/0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")
        .by(&owner, ALL)
        .json(json!({"name": "x"}))
        .send(&app)
        .await
        .problem(404);
}

pub async fn delete_honours_if_match_and_then_the_item_is_gone<B: Backend>(b: &B) {
    let app = b.app();
    let owner = unique_owner("delete");
    let path = format!(
        "/items/{}",
        id_of(&create::<B>(&app, &owner, json!({"name": "n"})).await)
    );

    call("DELETE", &path)
        .by(&owner, ALL)
        .header("If-Match", "\"2\"")
        .send(&app)
        .await
        .problem(412);
    call("DELETE", &path)
        .by(&owner, ALL)
        .header("If-Match", "\"2\", \"3\"")
        .send(&app)
        .await
        .problem(412);
    assert_eq!(
        call("GET", &path).by(&owner, ALL).send(&app).await.status,
        200
    );

    let r = call("DELETE", &path)
        .by(&owner, ALL)
        .header("If-Match", "\"1\"")
        .send(&app)
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(r.body, Value::Null);
    call("GET", &path)
        .by(&owner, ALL)
        .send(&app)
        .await
        .problem(404);
    call("DELETE", &path)
        .by(&owner, ALL)
        .send(&app)
        .await
        .problem(404);
    call("DELETE", &path)
        .by(&owner, ALL)
        .header("If-Match", "\"1\"")
        .send(&app)
        .await
        .problem(404);

    // Without If-Match, and with `*`, a delete needs only the item to exist.
    for if_match in [None, Some("*")] {
        let path = format!(
            "/items/{}",
            id_of(&create::<B>(&app, &owner, json!({"name": "n"})).await)
        );
        let mut c = call("DELETE", &path).by(&owner, ALL);
        if let Some(m) = if_match {
            c = c.header("If-Match", m);
        }
        assert_eq!(c.send(&app).await.status, 204);
    }
    assert!(list_all(&app, &owner).await.is_empty());
}

pub async fn racing_writers_with_the_same_if_match_get_one_success_and_one_412<B: Backend>(b: &B) {
    // Two handler instances, as two Lambda instances would be.
    let (one, two) = (b.app(), b.app());
    let owner = unique_owner("race");
    for round in 0..5 {
        let path = format!(
            "/items/{}",
            id_of(&create::<B>(&one, &owner, json!({"name": "n"})).await)
        );
        let a = call("PUT", &path)
            .by(&owner, ALL)
            .header("If-Match", "\"1\"")
            .json(json!({"name": "from one"}));
        let b2 = call("PATCH", &path)
            .by(&owner, ALL)
            .header("If-Match", "\"1\"")
            .json(json!({"name": "from two"}));
        let (ra, rb) = tokio::join!(a.send(&one), b2.send(&two));
        let mut statuses = [ra.status, rb.status];
        statuses.sort_unstable();
        assert_eq!(
            statuses,
            [200, 412],
            "round {round}: {} / {}",
            ra.body,
            rb.body
        );
        let winner = if ra.status == 200 { ra } else { rb };
        let now = call("GET", &path).by(&owner, ALL).send(&one).await;
        assert_eq!(now.body["version"], 2);
        assert_eq!(now.body["name"], winner.body["name"]);
    }
}

pub async fn racing_deletes_with_the_same_if_match_get_one_204_and_one_412<B: Backend>(b: &B) {
    let (one, two) = (b.app(), b.app());
    let owner = unique_owner("race-delete");
    let path = format!(
        "/items/{}",
        id_of(&create::<B>(&one, &owner, json!({"name": "n"})).await)
    );
    let put = call("PUT", &path)
        .by(&owner, ALL)
        .header("If-Match", "\"1\"")
        .json(json!({"name": "m"}));
    let del = call("DELETE", &path)
        .by(&owner, ALL)
        .header("If-Match", "\"1\"");
    let (rp, rd) = tokio::join!(put.send(&one), del.send(&two));
    let mut statuses = [rp.status, rd.status];
    statuses.sort_unstable();
    // Either the PUT won (the DELETE then finds version 2: 412) or the DELETE
    // won (the PUT then finds no item: 404, or read it first: 412).
    assert!(
        statuses == [200, 412] || statuses == [204, 404] || statuses == [204, 412],
        "{statuses:?}"
    );
}

pub async fn store_writes_are_conditional_on_the_version<B: Backend>(b: &B) {
    // The same race at the store boundary, where the handler cannot serialize it.
    let app = b.app();
    let store = app.service().store();
    let owner = policies::Owner::user(&unique_owner("store")).unwrap();
    let item = Item::create(
        ItemId::generate(),
        api::item::ItemInput::from_json(json!({"name": "n"})).unwrap(),
        "2026-01-01T00:00:00.000Z".into(),
    );
    store.create(&owner, &item, None, 0).await.unwrap();
    assert!(matches!(
        store.create(&owner, &item, None, 0).await,
        Err(StoreError::AlreadyExists)
    ));
    let next = item.replaced_with(item.input(), "2026-01-01T00:00:01.000Z".into());
    let (a, b2) = tokio::join!(
        store.replace(&owner, &next, 1),
        store.replace(&owner, &next, 1)
    );
    let oks = [a.is_ok(), b2.is_ok()].iter().filter(|ok| **ok).count();
    assert_eq!(oks, 1);
    let err = if let Err(e) = a { e } else { b2.unwrap_err() };
    assert!(
        matches!(
            err,
            StoreError::VersionMismatch {
                expected: 1,
                actual: 2
            }
        ),
        "{err:?}"
    );
    let id = ItemId::parse(&item.id).unwrap();
    assert!(matches!(
        store.delete(&owner, &id, Some(1)).await,
        Err(StoreError::VersionMismatch {
            expected: 1,
            actual: 2
        })
    ));
    assert!(matches!(
        store
            .replace(&policies::Owner::user("someone-else").unwrap(), &next, 1)
            .await,
        Err(StoreError::NotFound)
    ));
    store.delete(&owner, &id, Some(2)).await.unwrap();
    assert!(matches!(
        store.delete(&owner, &id, None).await,
        Err(StoreError::NotFound)
    ));
    assert!(store.get(&owner, &id).await.unwrap().is_none());
}

pub async fn an_idempotent_retry_returns_the_first_item<B: Backend>(b: &B) {
    let (one, two) = (b.app(), b.app());
    let owner = unique_owner("idem");
    let post = call("POST", "/items")
        .by(&owner, ALL)
        .header("Idempotency-Key", "order-7f3a")
        .json(json!({"name": "n", "tags": ["x"]}));
    let first = post.send(&one).await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.header("idempotent-replayed"), None);

    // The same body in another key order and spacing is the same request.
    let retry = call("POST", "/items")
        .by(&owner, ALL)
        .header("Idempotency-Key", "order-7f3a")
        .header("Content-Type", "application/json")
        .raw_body(r#"{ "tags": ["x"],  "name": "n" }"#)
        .send(&two)
        .await;
    assert_eq!(retry.status, 201, "{}", retry.body);
    assert_eq!(retry.body, first.body);
    assert_eq!(retry.header("location"), first.header("location"));
    assert_eq!(retry.header("etag"), first.header("etag"));
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(list_all(&one, &owner).await.len(), 1);

    // Concurrent retries: all answer with the same item, one item stored.
    let key_post = call("POST", "/items")
        .by(&owner, ALL)
        .header("Idempotency-Key", "burst-1")
        .json(json!({"name": "burst"}));
    let (a, c) = tokio::join!(key_post.send(&one), key_post.send(&two));
    let ok: Vec<&Resp> = [&a, &c].into_iter().filter(|r| r.status == 201).collect();
    assert!(!ok.is_empty());
    for r in [&a, &c] {
        assert!(
            r.status == 201 || r.status == 409,
            "{}: {}",
            r.status,
            r.body
        );
    }
    let ids: HashSet<String> = ok.iter().map(|r| id_of(r)).collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(list_all(&one, &owner).await.len(), 2);
}

pub async fn an_idempotency_key_reused_with_another_body_is_409<B: Backend>(b: &B) {
    let app = b.app();
    let owner = unique_owner("idem409");
    let first = call("POST", "/items")
        .by(&owner, ALL)
        .header("Idempotency-Key", "k1")
        .json(json!({"name": "n"}))
        .send(&app)
        .await;
    assert_eq!(first.status, 201);
    let other = call("POST", "/items")
        .by(&owner, ALL)
        .header("Idempotency-Key", "k1")
        .json(json!({"name": "different"}))
        .send(&app)
        .await;
    other.problem(409);
    let items = list_all(&app, &owner).await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["name"], "n");

    // A malformed key is a 400 naming the header, and writes nothing.
    for bad in ["", &"k".repeat(256), "has space"] {
        let r = call("POST", "/items")
            .by(&owner, ALL)
            .header("Idempotency-Key", bad)
            .json(json!({"name": "n"}))
            .send(&app)
            .await;
        r.problem(400);
        assert_eq!(r.error_fields(), ["Idempotency-Key"], "{bad:?}");
    }
    assert_eq!(list_all(&app, &owner).await.len(), 1);
}

pub async fn idempotency_keys_are_per_owner<B: Backend>(b: &B) {
    let app = b.app();
    let alice = unique_owner("alice");
    let bob = unique_owner("bob");
    let post = |owner: &str| {
        call("POST", "/items")
            .by(owner, ALL)
            .header("Idempotency-Key", "shared-key")
            .json(json!({"name": "n"}))
    };
    let a = post(&alice).send(&app).await;
    let b2 = post(&bob).send(&app).await;
    assert_eq!((a.status, b2.status), (201, 201));
    assert_ne!(a.body["id"], b2.body["id"]);
    assert_eq!(b2.header("idempotent-replayed"), None);
}

pub async fn an_idempotency_key_is_honoured_for_24_hours_then_free<B: Backend>(b: &B) {
    let owner = unique_owner("idem-ttl");
    let post = |name: &str| {
        call("POST", "/items")
            .by(&owner, ALL)
            .header("Idempotency-Key", "daily")
            .json(json!({ "name": name }))
    };
    let first = post("first").send(&b.app_at(day_0)).await;
    assert_eq!(first.status, 201);
    assert_eq!(first.body["createdAt"], "2027-01-15T08:00:00.000Z");

    let later = b.app_at(day_0_plus_23h);
    let replay = post("first").send(&later).await;
    assert_eq!(replay.body, first.body);
    post("other").send(&later).await.problem(409);

    // Expired (even if TTL has not deleted the record yet): the key is free.
    let next_day = b.app_at(day_0_plus_25h);
    let fresh = post("other").send(&next_day).await;
    assert_eq!(fresh.status, 201, "{}", fresh.body);
    assert_ne!(fresh.body["id"], first.body["id"]);
    assert_eq!(fresh.header("idempotent-replayed"), None);
    let again = post("other").send(&next_day).await;
    assert_eq!(again.body, fresh.body);
    assert_eq!(list_all(&next_day, &owner).await.len(), 2);
}

pub async fn bad_input_gets_its_status_and_writes_nothing<B: Backend>(b: &B) {
    let app = b.app();
    let owner = unique_owner("bad");
    let post = || call("POST", "/items").by(&owner, ALL);

    let r = post()
        .header("Content-Type", "application/json")
        .raw_body("{\"name\": ")
        .send(&app)
        .await;
    r.problem(400);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("not valid JSON")
    );

    let r = post().json(json!([{"name": "n"}])).send(&app).await;
    assert_eq!(r.problem(400)["detail"], "The body must be a JSON object.");
    assert!(r.body.get("errors").is_none());

    let r = post()
        .json(json!({"name": 5, "tags": "x"}))
        .send(&app)
        .await;
    r.problem(400);
    assert_eq!(r.error_fields(), ["name", "tags"]);

    let r = post()
        .json(json!({"description": "no name"}))
        .send(&app)
        .await;
    r.problem(400);
    assert_eq!(r.error_fields(), ["name"]);

    let r = post()
        .json(json!({"name": "x".repeat(201)}))
        .send(&app)
        .await;
    assert_eq!(r.problem(400)["errors"][0]["field"], "name");

    let tags: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
    let r = post()
        .json(json!({"name": "n", "tags": tags}))
        .send(&app)
        .await;
    r.problem(400);
    assert_eq!(r.error_fields(), ["tags"]);

    let big = json!({"name": "n", "description": "x".repeat(70_000)});
    post().json(big).send(&app).await.problem(413);

    let r = post()
        .header("Content-Type", "text/plain")
        .raw_body("{\"name\":\"n\"}")
        .send(&app)
        .await;
    r.problem(415);
    post()
        .raw_body("{\"name\":\"n\"}")
        .send(&app)
        .await
        .problem(415);
    // merge-patch is a PATCH media type only.
    post()
        .header("Content-Type", "application/merge-patch+json")
        .raw_body("{\"name\":\"n\"}")
        .send(&app)
        .await
        .problem(415);
    // Parameters and case do not matter.
    let ok = post()
        .header("Content-Type", "Application/JSON; charset=utf-8")
        .raw_body("{\"name\":\"n\"}")
        .send(&app)
        .await;
    assert_eq!(ok.status, 201);
    let ok_path = format!("/items/{}", id_of(&ok));

    call("GET", "/things")
        .by(&owner, ALL)
        .send(&app)
        .await
        .problem(404);
    call("GET", "/items/a/b")
        .by(&owner, ALL)
        .send(&app)
        .await
        .problem(404);

    let r = call("DELETE", "/items").by(&owner, ALL).send(&app).await;
    r.problem(405);
    assert_eq!(r.header("allow"), Some("GET, POST"));
    let r = call("POST", &ok_path)
        .by(&owner, ALL)
        .json(json!({"name": "n"}))
        .send(&app)
        .await;
    r.problem(405);
    assert_eq!(r.header("allow"), Some("GET, PUT, PATCH, DELETE"));

    let long = format!("/items/{}", "a".repeat(65));
    let r = call("GET", &long).by(&owner, ALL).send(&app).await;
    r.problem(400);
    assert_eq!(r.error_fields(), ["id"]);
    call("PUT", &long)
        .by(&owner, ALL)
        .json(json!({"name": "n"}))
        .send(&app)
        .await
        .problem(400);

    // PUT with bad input leaves the item as it was.
    call("PUT", &ok_path)
        .by(&owner, ALL)
        .json(json!({"name": ""}))
        .send(&app)
        .await
        .problem(400);
    call("PUT", &ok_path)
        .by(&owner, ALL)
        .header("Content-Type", "text/plain")
        .raw_body("n")
        .send(&app)
        .await
        .problem(415);

    let items = list_all(&app, &owner).await;
    assert_eq!(items.len(), 1, "only the one valid create was stored");
    assert_eq!(items[0]["version"], 1);
}

pub async fn permissions_are_rechecked_and_a_missing_owner_is_refused<B: Backend>(b: &B) {
    let app = b.app();
    let owner = unique_owner("perm");
    let r = call("POST", "/items")
        .by(&owner, "items:read")
        .json(json!({"name": "n"}))
        .send(&app)
        .await;
    assert_eq!(
        r.problem(403)["detail"],
        "This route needs the permission items:write."
    );
    let id = id_of(&create::<B>(&app, &owner, json!({"name": "n"})).await);
    let path = format!("/items/{id}");
    call("DELETE", &path)
        .by(&owner, "items:read items:write")
        .send(&app)
        .await
        .problem(403);
    call("PATCH", &path)
        .by(&owner, "items:read items:delete")
        .json(json!({"name": "x"}))
        .send(&app)
        .await
        .problem(403);
    call("GET", "/items")
        .by(&owner, "")
        .send(&app)
        .await
        .problem(403);
    call("GET", &path)
        .by(&owner, "items:read items:superuser")
        .send(&app)
        .await
        .problem(403);

    // No owner in the context: refused, whatever the permissions.
    call("GET", "/items")
        .context(json!({"principalId": owner, "permissions": ALL}))
        .send(&app)
        .await
        .problem(401);
    call("GET", &path).send(&app).await.problem(401);

    let items = list_all(&app, &owner).await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["version"], 1);
}
