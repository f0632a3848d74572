//! `/register`: create an account and sign in.

use leptos::prelude::*;

use super::credentials::{CredentialsForm, Purpose, leave_when_signed_in};

#[component]
pub fn Register() -> impl IntoView {
    leave_when_signed_in();
    view! {
        <div class="signin">
            <CredentialsForm purpose=Purpose::Register/>
        </div>
    }
}
