//! `/readyz` follows the store: ready while it answers, 503 with a JSON error once it does not.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use switchboard_http as http;
use tower::ServiceExt;

#[tokio::test]
async fn readyz_turns_unavailable_when_the_store_stops_answering() {
    let dir = std::env::temp_dir().join(format!("switchboard-readyz-{}", std::process::id()));
    let store = store::open(&format!("sqlite://{}/hub.db", dir.display()))
        .await
        .unwrap();
    let tenant = domain::tenant::Tenant::new(domain::TenantName::new("T").unwrap(), vec![], vec![], vec![]).unwrap();
    let hub = std::sync::Arc::new(engine::Hub::new(tenant, store.clone()));
    let app = http::router(http::AppState {
        hub: hub.clone(),
        metrics: http::prometheus_handle(),
        admin_token: "test-admin-token".into(),
        directline: Default::default(),
        voice: None,
        security: Default::default(),
    });

    let response = app
        .clone()
        .oneshot(Request::get("/readyz").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    store.close().await;
    let response = app
        .oneshot(Request::get("/readyz").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["error"]["code"], "unavailable");
    assert_eq!(body["error"]["message"], "the sqlite store is not reachable");
    let _ = std::fs::remove_dir_all(dir);
}
