//! Draws a sign-in URL's QR code as SVG path data from the `qrcode` crate's module grid: one
//! path, crisp edges and the standard four-module quiet zone, so ordinary phone cameras and
//! decoders read it. Done on the server, which makes the codes, so the encoder stays out of the
//! browser's WASM.

use qrcode::{Color, EcLevel, QrCode};

const QUIET_ZONE: usize = 4;

/// The SVG path of the dark modules, and the side of the drawing in modules (quiet zone included).
pub fn qr_path(text: &str) -> Option<(String, usize)> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).ok()?;
    let width = code.width();
    let mut path = String::new();
    for (index, color) in code.to_colors().into_iter().enumerate() {
        if color == Color::Dark {
            let (x, y) = (index % width + QUIET_ZONE, index / width + QUIET_ZONE);
            path.push_str(&format!("M{x} {y}h1v1h-1z"));
        }
    }
    Some((path, width + 2 * QUIET_ZONE))
}

#[cfg(test)]
mod tests {
    use super::qr_path;

    #[test]
    fn a_sign_in_url_fits_a_small_code_with_a_quiet_zone() {
        let (path, side) = qr_path("http://127.0.0.1:3000/qr/AAAAAAAAAAAAAAAAAAAAAA").unwrap();
        assert!(side <= 33 + 8, "side {side}");
        // The finder pattern's top-left module sits just inside the quiet zone.
        assert!(path.starts_with("M4 4h1v1h-1z"));
    }
}
