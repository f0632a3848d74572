//! The browser's passkey dialogs, from the WASM: the server's options go through
//! `PublicKeyCredential.parseCreationOptionsFromJSON` / `parseRequestOptionsFromJSON` into
//! `navigator.credentials.create` / `get`, and the answer comes back as its `toJSON()`. No script
//! file of our own, so the CSP stays nonce + `strict-dynamic`. On the server every call says
//! "not supported": it never shows a passkey dialog.

use crate::proto::WebAuthnJson;

/// Why no credential came back.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub enum Failure {
    /// The person closed the dialog, it timed out, or the page aborted it: nothing to report.
    Cancelled,
    /// This authenticator holds a passkey for this account already.
    AlreadyRegistered,
    Unsupported,
    /// Anything else, in the browser's words.
    Other(String),
}

/// Whether this page can use passkeys: a browser with WebAuthn and its JSON helpers, in a
/// secure context, on a domain name (WebAuthn refuses IP addresses). Browser only; the server
/// render says no, so pages show passkey buttons after hydration.
pub fn supported() -> bool {
    #[cfg(feature = "hydrate")]
    {
        browser::supported()
    }
    #[cfg(not(feature = "hydrate"))]
    false
}

/// The "add a passkey" dialog, for the creation options of `/api/passkeys/register/start`.
pub async fn create(options: &WebAuthnJson) -> Result<WebAuthnJson, Failure> {
    #[cfg(feature = "hydrate")]
    {
        browser::run("parseCreationOptionsFromJSON", "create", options, None)
            .await
            .map(WebAuthnJson)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = options;
        Err(Failure::Unsupported)
    }
}

/// The "sign in with a passkey" dialog, for request options. With `autofill`, the request
/// waits quietly for the person to pick a passkey from the username field's suggestions
/// (conditional mediation) until it is aborted.
#[cfg(feature = "hydrate")]
pub async fn get(
    options: &WebAuthnJson,
    autofill: Option<&web_sys::AbortSignal>,
) -> Result<WebAuthnJson, Failure> {
    browser::run("parseRequestOptionsFromJSON", "get", options, autofill)
        .await
        .map(WebAuthnJson)
}

/// Whether the browser can offer passkeys in the username field's autofill.
#[cfg(feature = "hydrate")]
pub async fn autofill_supported() -> bool {
    browser::autofill_supported().await
}

#[cfg(feature = "hydrate")]
mod browser {
    use js_sys::{Function, JSON, Object, Promise, Reflect};
    use leptos::prelude::window;
    use serde_json::value::RawValue;
    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_futures::JsFuture;

    use super::Failure;

    fn get(target: &JsValue, name: &str) -> Option<JsValue> {
        Reflect::get(target, &name.into())
            .ok()
            .filter(|value| !value.is_undefined() && !value.is_null())
    }

    fn method(target: &JsValue, name: &str) -> Option<Function> {
        get(target, name)?.dyn_into().ok()
    }

    fn public_key_credential() -> Option<JsValue> {
        get(&window(), "PublicKeyCredential")
    }

    pub fn supported() -> bool {
        let Some(class) = public_key_credential() else {
            return false;
        };
        let host = window().location().hostname().unwrap_or_default();
        let on_ip_address = host.parse::<std::net::Ipv4Addr>().is_ok() || host.contains(':');
        window().is_secure_context()
            && !on_ip_address
            && method(&class, "parseCreationOptionsFromJSON").is_some()
            && method(&class, "parseRequestOptionsFromJSON").is_some()
    }

    pub async fn autofill_supported() -> bool {
        let Some(class) = public_key_credential() else {
            return false;
        };
        let Some(check) = method(&class, "isConditionalMediationAvailable") else {
            return false;
        };
        let Ok(promise) = check.call0(&class).and_then(|p| p.dyn_into::<Promise>()) else {
            return false;
        };
        JsFuture::from(promise)
            .await
            .ok()
            .and_then(|available| available.as_bool())
            .unwrap_or(false)
    }

    fn failure(error: JsValue) -> Failure {
        let name = get(&error, "name").and_then(|n| n.as_string());
        match name.as_deref() {
            Some("NotAllowedError" | "AbortError") => Failure::Cancelled,
            Some("InvalidStateError") => Failure::AlreadyRegistered,
            _ => Failure::Other(
                get(&error, "message")
                    .and_then(|m| m.as_string())
                    .unwrap_or_else(|| format!("{error:?}")),
            ),
        }
    }

    /// `navigator.credentials[verb]({publicKey: PublicKeyCredential[parse](options)})`, and the
    /// credential's `toJSON()`.
    pub async fn run(
        parse: &str,
        verb: &str,
        options: &RawValue,
        autofill: Option<&web_sys::AbortSignal>,
    ) -> Result<Box<RawValue>, Failure> {
        let class = public_key_credential().ok_or(Failure::Unsupported)?;
        let parse = method(&class, parse).ok_or(Failure::Unsupported)?;
        let options = JSON::parse(options.get()).map_err(failure)?;
        let public_key = parse.call1(&class, &options).map_err(failure)?;
        let request = Object::new();
        let set = |key: &str, value: &JsValue| Reflect::set(&request, &key.into(), value);
        set("publicKey", &public_key).map_err(failure)?;
        if let Some(signal) = autofill {
            set("mediation", &"conditional".into()).map_err(failure)?;
            set("signal", signal).map_err(failure)?;
        }
        let credentials = get(&window().navigator(), "credentials").ok_or(Failure::Unsupported)?;
        let call = method(&credentials, verb).ok_or(Failure::Unsupported)?;
        let promise: Promise = call
            .call1(&credentials, &request)
            .map_err(failure)?
            .dyn_into()
            .map_err(failure)?;
        let credential = JsFuture::from(promise).await.map_err(failure)?;
        let to_json = method(&credential, "toJSON").ok_or(Failure::Unsupported)?;
        let json = to_json.call0(&credential).map_err(failure)?;
        let text: String = JSON::stringify(&json).map_err(failure)?.into();
        RawValue::from_string(text).map_err(|e| Failure::Other(e.to_string()))
    }
}
