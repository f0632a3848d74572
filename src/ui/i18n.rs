//! Every user-visible string, once per language. Pages read them through `texts()`; the language
//! comes from the browser's Accept-Language on the server render, and from `<html lang>` after
//! hydration, so both renders agree.

use leptos::prelude::*;

use crate::error::{AppError, ErrorCode};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    En,
    Zh,
}

impl Lang {
    pub fn tag(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Zh => "zh-CN",
        }
    }

    /// The first supported language in an Accept-Language header (or `lang` attribute).
    pub fn pick(accept: &str) -> Self {
        accept
            .split(',')
            .map(|part| {
                part.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .find_map(|tag| match tag.split('-').next() {
                Some("zh") => Some(Self::Zh),
                Some("en") => Some(Self::En),
                _ => None,
            })
            .unwrap_or(Self::En)
    }

    /// The language of this render.
    pub fn current() -> Self {
        if let Some(lang) = use_context::<Lang>() {
            return lang;
        }
        #[cfg(feature = "ssr")]
        {
            use_context::<axum::http::request::Parts>()
                .and_then(|parts| {
                    parts
                        .headers
                        .get("accept-language")?
                        .to_str()
                        .ok()
                        .map(Self::pick)
                })
                .unwrap_or(Self::En)
        }
        #[cfg(not(feature = "ssr"))]
        {
            document()
                .document_element()
                .and_then(|html| html.get_attribute("lang"))
                .map_or(Self::En, |l| Self::pick(&l))
        }
    }
}

pub fn texts() -> &'static Texts {
    match use_context::<Lang>().unwrap_or_else(Lang::current) {
        Lang::En => &EN,
        Lang::Zh => &ZH,
    }
}

/// A user-facing message for an API error, in the page's language.
pub fn error_text(t: &Texts, error: &AppError) -> String {
    match error.code {
        ErrorCode::InvalidCredentials => t.err_credentials.into(),
        ErrorCode::UsernameTaken => t.err_username_taken.into(),
        ErrorCode::RateLimited => t
            .err_rate_limited
            .replace("{seconds}", &error.retry_after.unwrap_or(60).to_string()),
        ErrorCode::Unauthorized | ErrorCode::SessionEnded | ErrorCode::TokenExpired => {
            t.err_signed_out.into()
        }
        ErrorCode::QrExpired => t.qr_phone_expired.into(),
        ErrorCode::NotFound => t.err_not_found.into(),
        ErrorCode::Network => t.err_network.into(),
        ErrorCode::Internal => t.err_internal.into(),
        ErrorCode::Unavailable => t.err_unavailable.into(),
        ErrorCode::Busy => t.err_busy.into(),
        // Validation and conflicts: the server's sentence names the rule that was broken.
        _ => error.message.clone(),
    }
}

pub struct Texts {
    pub app_name: &'static str,
    pub tagline: &'static str,
    pub loading: &'static str,
    pub err_busy: &'static str,
    pub nav_account: &'static str,
    pub nav_sessions: &'static str,
    pub nav_sign_in: &'static str,
    pub nav_register: &'static str,
    pub sign_out: &'static str,
    pub not_found: &'static str,

    pub username: &'static str,
    pub password: &'static str,
    pub username_hint: &'static str,
    pub display_name_hint: &'static str,
    pub display_name: &'static str,
    pub password_hint: &'static str,
    pub sign_in_title: &'static str,
    pub sign_in_button: &'static str,
    pub signing_in: &'static str,
    pub no_account: &'static str,
    pub register_title: &'static str,
    pub register_button: &'static str,
    pub have_account: &'static str,
    pub err_username_length: &'static str,
    pub err_username_start: &'static str,
    pub err_username_chars: &'static str,
    pub err_password_length: &'static str,

    pub qr_title: &'static str,
    pub qr_show: &'static str,
    pub qr_hide: &'static str,
    pub qr_instructions: &'static str,
    pub qr_image_label: &'static str,
    pub qr_getting: &'static str,
    pub qr_expires_in: &'static str,
    pub qr_scanned_by: &'static str,
    pub qr_denied: &'static str,
    pub qr_expired: &'static str,
    pub qr_new_code: &'static str,
    pub qr_approved: &'static str,

    pub qr_phone_title: &'static str,
    pub qr_phone_intro: &'static str,
    pub qr_phone_browser: &'static str,
    pub qr_phone_ip: &'static str,
    pub qr_phone_when: &'static str,
    pub qr_phone_warning: &'static str,
    pub qr_approve: &'static str,
    pub qr_deny: &'static str,
    pub qr_phone_approved: &'static str,
    pub qr_phone_denied: &'static str,
    pub qr_phone_expired: &'static str,
    pub qr_phone_as: &'static str,
    pub qr_phone_other_network: &'static str,

    pub account_title: &'static str,
    pub account_signed_in_as: &'static str,
    pub account_member_since: &'static str,
    pub account_this_session: &'static str,
    pub account_manage_sessions: &'static str,
    pub account_display_name_saved: &'static str,
    pub account_display_name_save: &'static str,
    pub account_display_name: &'static str,

    pub sessions_title: &'static str,
    pub sessions_intro: &'static str,
    pub sessions_this_device: &'static str,
    pub sessions_via_password: &'static str,
    pub sessions_via_qr: &'static str,
    pub sessions_via_app: &'static str,
    pub sessions_via_device: &'static str,
    pub sessions_app: &'static str,
    pub sessions_ip: &'static str,
    pub sessions_signed_in: &'static str,
    pub sessions_last_active: &'static str,
    pub sessions_end: &'static str,
    pub sessions_end_others: &'static str,
    pub sessions_none_others: &'static str,
    pub sessions_on: &'static str,
    pub sessions_approved_from: &'static str,

    pub err_credentials: &'static str,
    pub err_username_taken: &'static str,
    pub err_rate_limited: &'static str,
    pub err_signed_out: &'static str,
    pub err_not_found: &'static str,
    pub err_network: &'static str,
    pub err_internal: &'static str,
    pub err_unavailable: &'static str,
}

pub static EN: Texts = Texts {
    app_name: "Sesame",
    tagline: "Sign in with a password, or scan a code with your phone.",
    loading: "Loading…",
    err_busy: "Too many sign-ins right now, trying again…",
    nav_account: "Account",
    nav_sessions: "Sessions",
    nav_sign_in: "Sign in",
    nav_register: "Register",
    sign_out: "Sign out",
    not_found: "This page does not exist.",

    username: "Username",
    password: "Password",
    username_hint: "3–32 characters: a–z, 0–9, . _ - (starting with a letter or digit). Not case-sensitive.",
    display_name_hint: "Any name, in any script, up to 64 characters. Shown beside your @handle.",
    display_name: "Display name (optional)",
    password_hint: "8–128 characters. A long phrase is best.",
    sign_in_title: "Sign in",
    sign_in_button: "Sign in",
    signing_in: "Signing in…",
    no_account: "No account yet? Register",
    register_title: "Create an account",
    register_button: "Register",
    have_account: "Already registered? Sign in",
    err_username_length: "The username must be 3 to 32 characters long.",
    err_username_start: "The username must start with a letter or a digit.",
    err_username_chars: "Usernames use only the letters a–z, digits, '.', '_' and '-'.",
    err_password_length: "The password must be 8 to 128 characters long.",

    qr_title: "Sign in with your phone",
    qr_show: "Sign in with your phone",
    qr_hide: "Use a password instead",
    qr_instructions: "Scan this code with the camera of a phone where you are signed in to Sesame, then confirm on the phone.",
    qr_image_label: "QR code to sign in with your phone",
    qr_getting: "Getting a code…",
    qr_expires_in: "Expires in {seconds} s",
    qr_scanned_by: "Scanned by {name} — confirm on your phone.",
    qr_denied: "The request was denied on the phone.",
    qr_expired: "This code has expired.",
    qr_new_code: "Get a new code",
    qr_approved: "Approved. Signing you in…",

    qr_phone_title: "Sign in on another device?",
    qr_phone_intro: "A device is asking to sign in to your account:",
    qr_phone_browser: "Device",
    qr_phone_ip: "IP address",
    qr_phone_when: "Asked at",
    qr_phone_warning: "Approve only if you are signing in on a computer in front of you right now. If someone sent you this code or asked you to scan it, deny.",
    qr_approve: "Approve",
    qr_deny: "Deny",
    qr_phone_approved: "Approved. The other device is now signed in.",
    qr_phone_denied: "Denied. Nobody was signed in.",
    qr_phone_expired: "This code has expired. Ask for a new one on the computer.",
    qr_phone_as: "You are signed in as {name}.",

    qr_phone_other_network: "This request comes from a different network than this phone. If that computer is not in front of you, deny.",
    account_title: "Your account",
    account_signed_in_as: "Signed in as",
    account_member_since: "Member since",
    account_this_session: "This session signed in with",
    account_manage_sessions: "Manage sessions",

    account_display_name_saved: "Saved.",
    account_display_name_save: "Save name",
    account_display_name: "Display name",
    sessions_title: "Your sessions",
    sessions_intro: "Every device signed in to your account. End any you do not recognise.",
    sessions_this_device: "This device",
    sessions_via_password: "Password",
    sessions_via_qr: "Via QR",
    sessions_via_app: "App",
    sessions_via_device: "Device code",
    sessions_app: "{app} (app)",
    sessions_ip: "IP",
    sessions_signed_in: "Signed in",
    sessions_last_active: "Last active",
    sessions_end: "End session",
    sessions_end_others: "End all other sessions",
    sessions_none_others: "No other devices are signed in.",
    sessions_on: "on",

    sessions_approved_from: "approved from {device}",
    err_credentials: "Wrong username or password.",
    err_username_taken: "That username is taken.",
    err_rate_limited: "Too many attempts. Try again in {seconds} seconds.",
    err_signed_out: "Your session has ended. Please sign in again.",
    err_not_found: "Not found.",
    err_network: "Cannot reach the server. Check your connection.",
    err_internal: "Something went wrong on our side. Please try again.",
    err_unavailable: "Can't reach the server, retrying…",
};

pub static ZH: Texts = Texts {
    app_name: "Sesame",
    tagline: "用密码登录，或用手机扫码登录。",
    loading: "加载中…",
    err_busy: "当前登录的人太多，正在重试…",
    nav_account: "账户",
    nav_sessions: "登录设备",
    nav_sign_in: "登录",
    nav_register: "注册",
    sign_out: "退出登录",
    not_found: "页面不存在。",

    username: "用户名",
    password: "密码",
    username_hint: "3–32 个字符：a–z、0–9、. _ -（以字母或数字开头），不区分大小写。",
    display_name_hint: "任意文字，最多 64 个字符，显示在账号旁。",
    display_name: "显示名称（可选）",
    password_hint: "8–128 个字符，长句最安全。",
    sign_in_title: "登录",
    sign_in_button: "登录",
    signing_in: "正在登录…",
    no_account: "还没有账户？注册",
    register_title: "创建账户",
    register_button: "注册",
    have_account: "已有账户？登录",
    err_username_length: "用户名须为 3 到 32 个字符。",
    err_username_start: "用户名须以字母或数字开头。",
    err_username_chars: "用户名只能包含字母 a–z、数字、“.”、“_” 和 “-”。",
    err_password_length: "密码须为 8 到 128 个字符。",

    qr_title: "手机扫码登录",
    qr_show: "手机扫码登录",
    qr_hide: "改用密码登录",
    qr_instructions: "用已登录 Sesame 的手机相机扫描此二维码，然后在手机上确认。",
    qr_image_label: "手机扫码登录的二维码",
    qr_getting: "正在获取二维码…",
    qr_expires_in: "{seconds} 秒后过期",
    qr_scanned_by: "{name} 已扫码，请在手机上确认。",
    qr_denied: "手机上已拒绝本次登录。",
    qr_expired: "二维码已过期。",
    qr_new_code: "刷新二维码",
    qr_approved: "已确认，正在登录…",

    qr_phone_title: "要在其他设备上登录吗？",
    qr_phone_intro: "有一台设备请求登录你的账户：",
    qr_phone_browser: "设备",
    qr_phone_ip: "IP 地址",
    qr_phone_when: "请求时间",
    qr_phone_warning: "只有当你正在面前的电脑上登录时才确认。如果是别人发给你的二维码或让你扫的码，请拒绝。",
    qr_approve: "确认登录",
    qr_deny: "拒绝",
    qr_phone_approved: "已确认，另一台设备已登录。",
    qr_phone_denied: "已拒绝，没有任何设备登录。",
    qr_phone_expired: "二维码已过期，请在电脑上刷新。",
    qr_phone_as: "当前账户：{name}",

    qr_phone_other_network: "该请求来自与本手机不同的网络。如果那台电脑不在你面前，请拒绝。",
    account_title: "我的账户",
    account_signed_in_as: "当前账户",
    account_member_since: "注册时间",
    account_this_session: "本次登录方式",
    account_manage_sessions: "管理登录设备",

    account_display_name_saved: "已保存。",
    account_display_name_save: "保存名称",
    account_display_name: "显示名称",
    sessions_title: "登录设备",
    sessions_intro: "所有登录了你账户的设备。不认识的设备请立即下线。",
    sessions_this_device: "本机",
    sessions_via_password: "密码",
    sessions_via_qr: "扫码",
    sessions_via_app: "应用",
    sessions_via_device: "设备码",
    sessions_app: "{app}（应用）",
    sessions_ip: "IP",
    sessions_signed_in: "登录于",
    sessions_last_active: "最近活动",
    sessions_end: "下线",
    sessions_end_others: "下线其他所有设备",
    sessions_none_others: "没有其他设备登录。",
    sessions_on: "·",

    sessions_approved_from: "由 {device} 批准",
    err_credentials: "用户名或密码错误。",
    err_username_taken: "用户名已被占用。",
    err_rate_limited: "尝试次数过多，请 {seconds} 秒后再试。",
    err_signed_out: "登录已失效，请重新登录。",
    err_not_found: "未找到。",
    err_network: "无法连接服务器，请检查网络。",
    err_internal: "服务器出了点问题，请稍后再试。",
    err_unavailable: "无法连接服务器，正在重试…",
};

/// The security center's strings (notices, activity, password, account deletion, relative
/// times), kept apart from `Texts` so the two grow without touching each other.
pub struct SecurityTexts {
    pub nav_security: &'static str,
    pub account_security_link: &'static str,
    pub notice_new_sign_in: &'static str,
    pub notice_that_was_me: &'static str,
    pub notice_end_session: &'static str,
    pub notice_ended: &'static str,
    pub time_just_now: &'static str,
    pub time_minute_ago: &'static str,
    pub time_minutes_ago: &'static str,
    pub time_hour_ago: &'static str,
    pub time_hours_ago: &'static str,
    pub time_day_ago: &'static str,
    pub time_days_ago: &'static str,
    pub security_title: &'static str,
    pub activity_title: &'static str,
    pub activity_intro: &'static str,
    pub activity_more: &'static str,
    pub activity_none: &'static str,
    pub activity_sign_in_password: &'static str,
    pub activity_sign_in_qr: &'static str,
    pub activity_sign_in_failed: &'static str,
    pub activity_qr_approved: &'static str,
    pub activity_qr_denied: &'static str,
    pub activity_session_ended: &'static str,
    pub activity_password_changed: &'static str,
    pub activity_refresh_reuse: &'static str,
    pub password_title: &'static str,
    pub password_current: &'static str,
    pub password_new: &'static str,
    pub password_repeat: &'static str,
    pub password_mismatch: &'static str,
    pub password_save: &'static str,
    pub password_changed: &'static str,
    pub err_wrong_password: &'static str,
    pub delete_title: &'static str,
    pub delete_intro: &'static str,
    pub delete_start: &'static str,
    pub delete_password: &'static str,
    pub delete_continue: &'static str,
    pub delete_confirm: &'static str,
    pub delete_final: &'static str,
    pub cancel: &'static str,
    pub activity_app_authorized: &'static str,
    pub activity_app_disconnected: &'static str,
    pub apps_title: &'static str,
    pub apps_intro: &'static str,
    pub apps_none: &'static str,
    pub apps_disconnect: &'static str,
    pub apps_allowed: &'static str,
    pub consent_title: &'static str,
    pub consent_as: &'static str,
    pub consent_learns: &'static str,
    pub consent_identity: &'static str,
    pub consent_profile: &'static str,
    pub consent_offline: &'static str,
    pub consent_note: &'static str,
    pub consent_allow: &'static str,
    pub consent_deny: &'static str,
    pub consent_problem: &'static str,
    pub consent_returning: &'static str,
    pub device_title: &'static str,
    pub device_prompt: &'static str,
    pub device_code_label: &'static str,
    pub device_continue: &'static str,
    pub device_asking: &'static str,
    pub device_check: &'static str,
    pub device_other_network: &'static str,
    pub device_warning: &'static str,
    pub device_approve: &'static str,
    pub device_deny: &'static str,
    pub device_approved: &'static str,
    pub device_denied: &'static str,
}

pub fn security_texts() -> &'static SecurityTexts {
    match use_context::<Lang>().unwrap_or_else(Lang::current) {
        Lang::En => &EN_SECURITY,
        Lang::Zh => &ZH_SECURITY,
    }
}

pub static EN_SECURITY: SecurityTexts = SecurityTexts {
    nav_security: "Security",
    account_security_link: "Security and password",
    notice_new_sign_in: "New sign-in:",
    notice_that_was_me: "That was me",
    notice_end_session: "End that session",
    notice_ended: "That session was ended.",
    time_just_now: "just now",
    time_minute_ago: "1 minute ago",
    time_minutes_ago: "{n} minutes ago",
    time_hour_ago: "1 hour ago",
    time_hours_ago: "{n} hours ago",
    time_day_ago: "yesterday",
    time_days_ago: "{n} days ago",
    security_title: "Security",
    activity_title: "Security activity",
    activity_intro: "Sign-ins and changes to your account, newest first. Tap a time to see it exactly.",
    activity_more: "Show older",
    activity_none: "Nothing yet.",
    activity_sign_in_password: "Signed in with password",
    activity_sign_in_qr: "Signed in by QR code",
    activity_sign_in_failed: "Wrong password entered",
    activity_qr_approved: "Approved a QR sign-in",
    activity_qr_denied: "Denied a QR sign-in",
    activity_session_ended: "Session ended",
    activity_password_changed: "Password changed",
    activity_refresh_reuse: "A stolen session token was caught; that session was ended",
    password_title: "Change password",
    password_current: "Current password",
    password_new: "New password",
    password_repeat: "Repeat the new password",
    password_mismatch: "The new passwords do not match.",
    password_save: "Change password",
    password_changed: "Password changed. Other sessions signed out: {n}.",
    err_wrong_password: "Wrong password.",
    delete_title: "Delete account",
    delete_intro: "Deletes your account and signs out every device. Your username becomes free for anyone to take. This cannot be undone.",
    delete_start: "Delete my account…",
    delete_password: "Your password",
    delete_continue: "Continue",
    delete_confirm: "Really delete {name} forever?",
    delete_final: "Yes, delete forever",
    cancel: "Cancel",
    activity_app_authorized: "Signed in to {app} with Sesame",
    activity_app_disconnected: "Disconnected {app}",
    apps_title: "Connected apps",
    apps_intro: "Apps you signed in to with Sesame. Disconnecting one signs it out everywhere; next time it must ask you again.",
    apps_none: "None yet.",
    apps_disconnect: "Disconnect",
    apps_allowed: "allowed",
    consent_title: "Sign in to {app}",
    consent_as: "You are signed in to Sesame as {name}.",
    consent_learns: "{app} will be able to:",
    consent_identity: "know that it is you (an account number, nothing else)",
    consent_profile: "see your name and @handle",
    consent_offline: "stay signed in until you disconnect it",
    consent_note: "Only allow apps you trust. You can disconnect it at any time on the Security page.",
    consent_allow: "Allow",
    consent_deny: "Deny",
    consent_problem: "This sign-in link can't be used",
    consent_returning: "Returning to the app…",
    device_title: "Sign in a TV or terminal",
    device_prompt: "Enter the code your TV or terminal shows.",
    device_code_label: "Code",
    device_continue: "Continue",
    device_asking: "{app} wants to sign in to your account",
    device_check: "Check that your TV or terminal shows this same code",
    device_other_network: "This device is not on your network. If it is not right in front of you, deny.",
    device_warning: "Only approve a device that is in front of you. If someone sent you this code, deny.",
    device_approve: "Approve",
    device_deny: "Deny",
    device_approved: "Approved. The device signs in within a few seconds.",
    device_denied: "Denied. The device was not signed in.",
};

pub static ZH_SECURITY: SecurityTexts = SecurityTexts {
    nav_security: "安全",
    account_security_link: "安全与密码",
    notice_new_sign_in: "新的登录：",
    notice_that_was_me: "是我本人",
    notice_end_session: "下线该设备",
    notice_ended: "该设备已下线。",
    time_just_now: "刚刚",
    time_minute_ago: "1 分钟前",
    time_minutes_ago: "{n} 分钟前",
    time_hour_ago: "1 小时前",
    time_hours_ago: "{n} 小时前",
    time_day_ago: "昨天",
    time_days_ago: "{n} 天前",
    security_title: "账户安全",
    activity_title: "安全记录",
    activity_intro: "账户的登录和变更记录，最新的在前。点按时间可查看准确时间。",
    activity_more: "查看更早的记录",
    activity_none: "暂无记录。",
    activity_sign_in_password: "密码登录",
    activity_sign_in_qr: "扫码登录",
    activity_sign_in_failed: "密码输入错误",
    activity_qr_approved: "扫码批准了一次登录",
    activity_qr_denied: "扫码拒绝了一次登录",
    activity_session_ended: "设备已下线",
    activity_password_changed: "修改了密码",
    activity_refresh_reuse: "发现被盗用的登录凭证，已下线该设备",
    password_title: "修改密码",
    password_current: "当前密码",
    password_new: "新密码",
    password_repeat: "再次输入新密码",
    password_mismatch: "两次输入的新密码不一致。",
    password_save: "修改密码",
    password_changed: "密码已修改，已下线其他设备：{n} 个。",
    err_wrong_password: "密码错误。",
    delete_title: "注销账户",
    delete_intro: "注销后账户将被删除，所有设备都会下线，用户名可被他人注册。此操作无法撤销。",
    delete_start: "注销我的账户…",
    delete_password: "你的密码",
    delete_continue: "继续",
    delete_confirm: "确定要永久注销 {name} 吗？",
    delete_final: "确定，永久注销",
    cancel: "取消",
    activity_app_authorized: "通过 Sesame 登录了 {app}",
    activity_app_disconnected: "断开了 {app}",
    apps_title: "已连接的应用",
    apps_intro: "你用 Sesame 登录过的应用。断开后，该应用在所有设备上退出登录，下次需要重新征得你的同意。",
    apps_none: "暂无。",
    apps_disconnect: "断开连接",
    apps_allowed: "授权于",
    consent_title: "登录 {app}",
    consent_as: "你已以 {name} 登录 Sesame。",
    consent_learns: "{app} 将可以：",
    consent_identity: "识别你的身份（一个账户编号，别无其他）",
    consent_profile: "查看你的名字和用户名",
    consent_offline: "在你断开连接之前保持登录",
    consent_note: "只允许你信任的应用。你可以随时在“账户安全”页面断开连接。",
    consent_allow: "允许",
    consent_deny: "拒绝",
    consent_problem: "无法使用此登录链接",
    consent_returning: "正在返回应用…",
    device_title: "登录电视或终端",
    device_prompt: "输入电视或终端上显示的代码。",
    device_code_label: "代码",
    device_continue: "继续",
    device_asking: "{app} 请求登录你的账户",
    device_check: "请确认你的电视或终端显示的是同一代码",
    device_other_network: "该设备与你不在同一网络。如果它不在你面前，请拒绝。",
    device_warning: "只批准就在你面前的设备。如果是别人发给你的代码，请拒绝。",
    device_approve: "批准",
    device_deny: "拒绝",
    device_approved: "已批准，设备将在几秒内登录。",
    device_denied: "已拒绝，设备未登录。",
};

#[cfg(test)]
mod tests {
    use super::Lang;

    #[test]
    fn accept_language_picks_the_first_supported_language() {
        assert_eq!(Lang::pick("zh-CN,zh;q=0.9,en;q=0.8"), Lang::Zh);
        assert_eq!(Lang::pick("fr-FR, en-GB;q=0.8"), Lang::En);
        assert_eq!(Lang::pick("de"), Lang::En);
        assert_eq!(Lang::pick("zh-TW"), Lang::Zh);
    }
}
