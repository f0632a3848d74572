//! Shows a QR code as inline SVG, from the path the server drew (`domain::qr_image`).

use leptos::prelude::*;

#[component]
pub fn QrCodeSvg(path: String, size: u32, label: &'static str) -> impl IntoView {
    view! {
        <svg
            class="qr"
            data-testid="qr-code"
            role="img"
            aria-label=label
            viewBox=format!("0 0 {size} {size}")
            shape-rendering="crispEdges"
        >
            <rect width=size height=size fill="#ffffff"/>
            <path d=path fill="#000000"/>
        </svg>
    }
}
