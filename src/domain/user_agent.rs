//! Turns a User-Agent header into the "Chrome on Windows" a person recognises. Deliberately small:
//! it names the browsers and systems people actually use and says "Unknown" otherwise.

/// Browser and operating system, for the sessions list and the QR confirmation screen.
pub fn describe(user_agent: &str) -> (String, String) {
    (browser(user_agent).to_owned(), os(user_agent).to_owned())
}

fn browser(ua: &str) -> &'static str {
    // Order matters: most browsers also claim to be Chrome, Safari or Mozilla.
    const BROWSERS: &[(&str, &str)] = &[
        ("MicroMessenger", "WeChat"),
        ("DingTalk", "DingTalk"),
        ("HeadlessChrome", "Headless Chrome"),
        ("Edg/", "Edge"),
        ("EdgA/", "Edge"),
        ("EdgiOS/", "Edge"),
        ("OPR/", "Opera"),
        ("SamsungBrowser/", "Samsung Internet"),
        ("UCBrowser/", "UC Browser"),
        ("QQBrowser/", "QQ Browser"),
        ("Firefox/", "Firefox"),
        ("FxiOS/", "Firefox"),
        ("CriOS/", "Chrome"),
        ("Chromium/", "Chromium"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
    ];
    BROWSERS
        .iter()
        .find(|(marker, _)| ua.contains(marker))
        .map_or("Unknown browser", |(_, name)| name)
}

fn os(ua: &str) -> &'static str {
    const SYSTEMS: &[(&str, &str)] = &[
        ("Windows", "Windows"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("HarmonyOS", "HarmonyOS"),
        ("Android", "Android"),
        ("CrOS", "ChromeOS"),
        ("Mac OS X", "macOS"),
        ("Macintosh", "macOS"),
        ("Linux", "Linux"),
    ];
    SYSTEMS
        .iter()
        .find(|(marker, _)| ua.contains(marker))
        .map_or("Unknown system", |(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn recognises_common_browsers_and_systems() {
        let cases = [
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
                ("Chrome", "Windows"),
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
                ("Edge", "Windows"),
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15",
                ("Safari", "macOS"),
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.40",
                ("WeChat", "iOS"),
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
                ("Firefox", "Linux"),
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
                ("Chrome", "Android"),
            ),
            ("", ("Unknown browser", "Unknown system")),
        ];
        for (ua, (browser, os)) in cases {
            assert_eq!(describe(ua), (browser.to_owned(), os.to_owned()), "{ua}");
        }
    }
}
