//! Discovery (RFC 7644 section 4): what this server implements, said truly,
//! since clients (and scim2-tester) build their models from it: only the
//! attributes groupd keeps are published, with their mutability and case rules.

use super::error::ScimError;
use super::{Auth, BASE, Scim};
use crate::domain::field::FieldDef;
use crate::service::Service;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// groupd's own group attributes (slug, description, category, flags, fields).
pub const GROUP_EXTENSION: &str = "urn:groupd:params:scim:schemas:extension:2.0:Group";
pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// Most resources in one list page.
pub const MAX_RESULTS: u32 = 200;

fn read_only(what: &'static str) -> impl Fn() -> std::future::Ready<Response> + Clone {
    move || std::future::ready(ScimError::method_not_allowed(what).into_response())
}

pub fn routes() -> Router<Service> {
    let spc = "ServiceProviderConfig";
    Router::new()
        .route(
            "/ServiceProviderConfig",
            get(service_provider_config)
                .post(read_only(spc))
                .put(read_only(spc))
                .patch(read_only(spc))
                .delete(read_only(spc)),
        )
        .route(
            "/ResourceTypes",
            get(resource_types)
                .post(read_only("ResourceTypes"))
                .put(read_only("ResourceTypes"))
                .patch(read_only("ResourceTypes"))
                .delete(read_only("ResourceTypes")),
        )
        .route("/ResourceTypes/{id}", get(resource_type))
        .route(
            "/Schemas",
            get(schemas)
                .post(read_only("Schemas"))
                .put(read_only("Schemas"))
                .patch(read_only("Schemas"))
                .delete(read_only("Schemas")),
        )
        .route("/Schemas/{id}", get(schema))
}

fn list(resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_RESPONSE],
        "totalResults": resources.len(),
        "itemsPerPage": resources.len(),
        "startIndex": 1,
        "Resources": resources,
    })
}

async fn service_provider_config(_: Auth) -> Scim<Value> {
    Scim(
        StatusCode::OK,
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
            "documentationUri": "https://github.com/groupd/groupd/blob/main/docs/scim.md",
            "patch": {"supported": true},
            "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
            "filter": {"supported": true, "maxResults": MAX_RESULTS},
            "changePassword": {"supported": false},
            "sort": {"supported": false},
            "etag": {"supported": false},
            "authenticationSchemes": [{
                "type": "oauthbearertoken",
                "name": "API key",
                "description": "A groupd API key of the workspace, sent as a bearer token",
                "primary": true
            }],
            "meta": {"resourceType": "ServiceProviderConfig",
                     "location": format!("{BASE}/ServiceProviderConfig")}
        }),
    )
}

fn resource_type_docs() -> Vec<Value> {
    vec![
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "User", "name": "User", "endpoint": "/Users",
            "description": "A user of the workspace",
            "schema": USER_SCHEMA,
            "meta": {"resourceType": "ResourceType", "location": format!("{BASE}/ResourceTypes/User")}
        }),
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "Group", "name": "Group", "endpoint": "/Groups",
            "description": "A group of the workspace, with its members",
            "schema": GROUP_SCHEMA,
            "schemaExtensions": [{"schema": GROUP_EXTENSION, "required": false}],
            "meta": {"resourceType": "ResourceType", "location": format!("{BASE}/ResourceTypes/Group")}
        }),
    ]
}

async fn resource_types(_: Auth) -> Scim<Value> {
    Scim(StatusCode::OK, list(resource_type_docs()))
}

async fn resource_type(_: Auth, Path(id): Path<String>) -> Result<Scim<Value>, ScimError> {
    resource_type_docs()
        .into_iter()
        .find(|r| r["id"] == id.as_str())
        .map(|r| Scim(StatusCode::OK, r))
        .ok_or_else(|| ScimError::not_found(format!("no resource type '{id}'")))
}

/// One attribute's definition.
fn attr(name: &str, kind: &str, required: bool, case_exact: bool, mutability: &str) -> Value {
    json!({
        "name": name, "type": kind, "multiValued": false, "required": required,
        "caseExact": case_exact, "mutability": mutability, "returned": "default",
        "uniqueness": "none", "description": name
    })
}

/// A group custom field's name in the extension (groupd's canonical field name).
pub fn field_attr(id: i64) -> String {
    format!("custom_field_{id}")
}

/// The field id an extension attribute name stands for (`custom_field_10`).
pub fn field_id(attr: &str) -> Option<i64> {
    let prefix = attr.get(..13)?;
    if !prefix.eq_ignore_ascii_case("custom_field_") {
        return None;
    }
    attr.get(13..)?.parse().ok().filter(|id: &i64| *id > 0)
}

/// The schemas, with the workspace's group custom fields in groupd's extension
/// (values are strings: dates as YYYY-MM-DD, numbers as written, a dropdown's
/// options as its canonical values).
fn schema_docs(fields: &[FieldDef]) -> Vec<Value> {
    let mut user_name = attr("userName", "string", true, false, "readWrite");
    user_name["uniqueness"] = json!("server");
    let mut emails = attr("emails", "complex", false, false, "readWrite");
    emails["multiValued"] = json!(true);
    emails["subAttributes"] = json!([attr("value", "string", false, false, "readWrite")]);
    let mut members = attr("members", "complex", false, false, "readWrite");
    members["multiValued"] = json!(true);
    let mut reference = attr("$ref", "reference", false, true, "immutable");
    reference["referenceTypes"] = json!(["User"]);
    members["subAttributes"] =
        json!([attr("value", "string", false, true, "immutable"), reference]);
    let schema = |id: &str, name: &str, attributes: Vec<Value>| {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
            "id": id, "name": name, "description": name, "attributes": attributes,
            "meta": {"resourceType": "Schema", "location": format!("{BASE}/Schemas/{id}")}
        })
    };
    vec![
        schema(
            USER_SCHEMA,
            "User",
            vec![
                user_name,
                attr("displayName", "string", false, false, "readWrite"),
                emails,
                // Required so that clients state it (a missing one is read as
                // true): it cannot be unassigned, only true or false.
                attr("active", "boolean", true, false, "readWrite"),
                attr("externalId", "string", false, true, "readWrite"),
            ],
        ),
        schema(
            GROUP_SCHEMA,
            "Group",
            vec![
                attr("displayName", "string", true, false, "readWrite"),
                members,
                attr("externalId", "string", false, true, "readWrite"),
            ],
        ),
        schema(
            GROUP_EXTENSION,
            "groupd group",
            vec![
                attr("slug", "string", false, false, "readWrite"),
                attr("description", "string", false, true, "readWrite"),
                attr("category", "string", false, true, "readWrite"),
                // Flags are true or false, never unassigned (a missing one is
                // read as false).
                attr("secret", "boolean", true, false, "readWrite"),
                attr("unleavable", "boolean", true, false, "readWrite"),
                attr("pinned", "boolean", true, false, "readWrite"),
            ]
            .into_iter()
            .chain(fields.iter().map(|f| {
                let mut a = attr(&field_attr(f.id), "string", false, true, "readWrite");
                a["description"] = json!(format!("{} ({})", f.name, f.kind.as_str()));
                if !f.options.is_empty() {
                    a["canonicalValues"] = json!(f.options);
                }
                a
            }))
            .collect(),
        ),
    ]
}

async fn schemas(
    Auth(caller): Auth,
    State(service): State<Service>,
) -> Result<Scim<Value>, ScimError> {
    let fields = service.list_fields(caller).await?;
    Ok(Scim(StatusCode::OK, list(schema_docs(&fields))))
}

async fn schema(
    Auth(caller): Auth,
    State(service): State<Service>,
    Path(id): Path<String>,
) -> Result<Scim<Value>, ScimError> {
    let fields = service.list_fields(caller).await?;
    schema_docs(&fields)
        .into_iter()
        .find(|s| {
            s["id"]
                .as_str()
                .is_some_and(|x| x.eq_ignore_ascii_case(&id))
        })
        .map(|s| Scim(StatusCode::OK, s))
        .ok_or_else(|| ScimError::not_found(format!("no schema '{id}'")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_field_names() {
        assert_eq!(field_id(&field_attr(10)), Some(10));
        assert_eq!(field_id("Custom_Field_7"), Some(7));
        for bad in [
            "custom_field_",
            "custom_field_x",
            "custom_field_-1",
            "custom_fiéld_1",
            "slug",
            "",
        ] {
            assert_eq!(field_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn every_resource_types_schema_is_published() {
        let ids: Vec<String> = schema_docs(&[])
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_string())
            .collect();
        for rt in resource_type_docs() {
            assert!(ids.contains(&rt["schema"].as_str().unwrap().to_string()));
            for ext in rt["schemaExtensions"].as_array().into_iter().flatten() {
                assert!(ids.contains(&ext["schema"].as_str().unwrap().to_string()));
            }
        }
    }
}
