//! Create requests: structure-aware bodies of both APIs (misspelt, mistyped and noisy
//! fields), arbitrary bytes, any content type and claims.

use super::*;

/// `name` with each letter's case flipped at random (how .NET clients may spell it).
fn spelling(name: &'static str) -> impl Strategy<Value = String> {
    prop::collection::vec(any::<bool>(), name.len()).prop_map(move |flips| {
        name.chars()
            .zip(flips)
            .map(|(c, flip)| {
                if flip {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect()
    })
}

/// The model's properties and one it does not know (ignored, as PVWA ignores it).
const ACCOUNT_FIELDS: [&str; 13] = {
    let known = bulkops_shared::ops::accounts::model::ACCOUNT_FIELDS;
    let mut all = ["networkId"; 13];
    let mut i = 0;
    while i < known.len() {
        all[i] = known[i];
        i += 1;
    }
    all
};

/// A value that is often of the right type for an account field, and often not.
fn field_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => "[a-zA-Z0-9 ._-]{0,10}".prop_map(Value::from),
        1 => prop_oneof![Just(json!("password")), Just(json!("Key")), Just(json!("PIN"))],
        1 => any::<i32>().prop_map(Value::from),
        1 => Just(Value::Null),
        1 => json_value(),
    ]
}

/// A valid account in a client's spelling: the required properties, optional ones of the
/// right type (or `null`), and an unknown extra.
fn valid_account() -> impl Strategy<Value = Value> {
    let optional_text = prop::option::of("[a-zA-Z0-9 .]{1,10}");
    (
        (spelling("platformId"), "[A-Za-z]{1,8}"),
        (spelling("safeName"), "[A-Za-z]{1,8}"),
        (spelling("userName"), optional_text.clone()),
        (spelling("address"), optional_text.clone()),
        (spelling("secret"), optional_text),
        (
            spelling("secretType"),
            prop::sample::select(&["password", "Password", "KEY"][..]),
        ),
        (spelling("uploadIndex"), prop::option::of(any::<i32>())),
        (
            spelling("secretManagement"),
            prop::option::of(any::<bool>()),
            spelling("manualManagementReason"),
        ),
    )
        .prop_map(
            |(platform, safe, user, address, secret, kind, index, (sm, auto, reason))| {
                json!({
                    platform.0: platform.1, safe.0: safe.1, user.0: user.1, address.0: address.1,
                    secret.0: secret.1, kind.0: kind.1, index.0: index.1,
                    sm: {"automaticManagementEnabled": auto, reason: null},
                    "networkId": "n1",
                })
            },
        )
}

/// An account-shaped object: known properties in random spellings (sometimes twice), random
/// values, unknown extras.
fn noisy_account() -> impl Strategy<Value = Value> {
    let field =
        (0..ACCOUNT_FIELDS.len()).prop_flat_map(|i| (spelling(ACCOUNT_FIELDS[i]), field_value()));
    prop::collection::vec(field, 0..10)
        .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<String, Value>>()))
}

fn account() -> impl Strategy<Value = Value> {
    prop_oneof![2 => valid_account(), 1 => noisy_account()]
}

fn upload_body() -> impl Strategy<Value = Value> {
    (
        spelling("source"),
        prop_oneof![3 => "[a-z.]{0,10}".prop_map(Value::from), 1 => field_value()],
        spelling("accountsList"),
        prop_oneof![
            4 => prop::collection::vec(valid_account(), 1..6).prop_map(Value::Array),
            2 => prop::collection::vec(account(), 0..6).prop_map(Value::Array),
            1 => json_value(),
        ],
    )
        .prop_map(|(s, source, l, list)| json!({ s: source, l: list }))
}

fn ids_body() -> impl Strategy<Value = Value> {
    let id = prop_oneof![
        3 => (0..5_000usize).prop_map(|n| Value::from(common::enrollment_id(n))),
        2 => prop::collection::vec(any::<u8>(), 1..30).prop_map(|bytes| {
            use base64::Engine as _;
            Value::from(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
        }),
        2 => "[A-Za-z0-9+/_=-]{0,40}".prop_map(Value::from),
        1 => json_value(),
    ];
    prop_oneof![
        4 => prop::collection::vec((0..5_000usize).prop_map(common::enrollment_id), 1..8)
            .prop_map(|ids| json!({ "ids": ids })),
        4 => prop::collection::vec(id, 0..8).prop_map(|ids| json!({ "ids": ids })),
        1 => json_value(),
    ]
}

/// A create route and a body for it: mostly shaped like that route's request, sometimes like
/// the other API's, arbitrary JSON or arbitrary bytes.
fn create_request() -> impl Strategy<Value = (&'static str, Vec<u8>)> {
    prop::sample::select(&CREATE_PATHS[..]).prop_flat_map(|path| {
        let own = if path.contains("mobileFlashPass") {
            ids_body().boxed()
        } else {
            upload_body().boxed()
        };
        let body = prop_oneof![
            6 => own.prop_map(|v| v.to_string().into_bytes()),
            1 => prop_oneof![ids_body(), upload_body()].prop_map(|v| v.to_string().into_bytes()),
            1 => json_value().prop_map(|v| v.to_string().into_bytes()),
            1 => prop::collection::vec(any::<u8>(), 0..64),
        ];
        (Just(path), body)
    })
}

#[test]
fn any_create_request_is_answered_with_success_or_a_4xx_that_writes_nothing() {
    let runtime = runtime();
    let fx = EmbeddedFixture::new();
    let deps = fx.submit_deps();
    proptest!(config(), |(
        (path, body) in create_request(),
        content_type in content_type(),
        claims in claims(),
    )| {
        runtime.block_on(async {
            let before = fx.footprint(SUB).await;
            let call = request("POST", path, "", Some(&body), &content_type, &claims);
            let response = submit::handler(&deps, call).await.expect("the handler answers");
            let accepted = check_response(path, &response)?;
            let after = fx.footprint(SUB).await;
            if accepted {
                let (mfp, uploads, _) = before;
                prop_assert!(
                    (after.0, after.1) == (mfp + 1, uploads) || (after.0, after.1) == (mfp, uploads + 1),
                    "an accepted request creates one job: {before:?} → {after:?}"
                );
            } else {
                prop_assert_eq!(before, after, "a rejected request wrote something");
            }
            Ok(())
        })?;
    });
}
