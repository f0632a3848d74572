//! Draws a sign-in URL's QR code as SVG path data from the `qrcode` crate's module grid: one
//! path, crisp edges and the standard four-module quiet zone, so ordinary phone cameras and
//! decoders read it. Done on the server, which makes the codes, so the encoder stays out of the
//! browser's WASM.

use qrcode::{Color, EcLevel, QrCode};

const QUIET_ZONE: usize = 4;

/// The SVG path of the dark modules, and the side of the drawing in modules (quiet zone included).
/// Each run of dark modules in a row is one rectangle, which keeps the path (sent uncompressed
/// with every new code, like all `/api` answers) to about a third of one square per module.
pub fn qr_path(text: &str) -> Option<(String, usize)> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).ok()?;
    let width = code.width();
    let colors = code.to_colors();
    let mut path = String::new();
    for (row, modules) in colors.chunks(width).enumerate() {
        let mut column = 0;
        while column < width {
            if modules[column] != Color::Dark {
                column += 1;
                continue;
            }
            let run = modules[column..]
                .iter()
                .take_while(|&&c| c == Color::Dark)
                .count();
            let (x, y) = (column + QUIET_ZONE, row + QUIET_ZONE);
            path.push_str(&format!("M{x} {y}h{run}v1h-{run}z"));
            column += run;
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
        // The finder pattern's top edge (7 dark modules) starts just inside the quiet zone.
        assert!(path.starts_with("M4 4h7v1h-7z"), "{path}");
    }
}
