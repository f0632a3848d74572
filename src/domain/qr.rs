//! The QR sign-in state machine. `QrTransition` is the only way a code changes state: each one
//! names the states it may start from and the state it ends in, and the database applies it as a
//! single conditional UPDATE (one function per transition in `db::qr_logins`, whose WHERE clause
//! starts from exactly these states), so racing requests have exactly one winner.
//!
//! ```text
//! pending ──scan──> scanned ──approve──> approved ──redeem──> consumed
//!                      └──deny──> denied
//! pending | scanned | approved ──(lifetime over)──> expired
//! ```

pub use crate::proto::QrState;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QrTransition {
    /// A signed-in phone opened the code's URL; that user now owns the code.
    Scan,
    /// The owner confirmed on the phone.
    Approve,
    /// The owner refused on the phone.
    Deny,
    /// The desktop holding the poll secret collected its new session.
    Redeem,
    /// The code outlived its lifetime before reaching a terminal state.
    Expire,
}

impl QrTransition {
    pub const ALL: [QrTransition; 5] = [
        Self::Scan,
        Self::Approve,
        Self::Deny,
        Self::Redeem,
        Self::Expire,
    ];

    /// The states this transition may start from.
    pub fn from(self) -> &'static [QrState] {
        use QrState::*;
        match self {
            Self::Scan => &[Pending],
            Self::Approve | Self::Deny => &[Scanned],
            Self::Redeem => &[Approved],
            Self::Expire => &[Pending, Scanned, Approved],
        }
    }

    pub fn to(self) -> QrState {
        match self {
            Self::Scan => QrState::Scanned,
            Self::Approve => QrState::Approved,
            Self::Deny => QrState::Denied,
            Self::Redeem => QrState::Consumed,
            Self::Expire => QrState::Expired,
        }
    }

    /// The state after this transition, or `None` where it is not allowed from `state`.
    pub fn apply(self, state: QrState) -> Option<QrState> {
        self.from().contains(&state).then_some(self.to())
    }

    /// The audit event name.
    pub fn event(self) -> &'static str {
        match self {
            Self::Scan => "qr_scan",
            Self::Approve => "qr_approve",
            Self::Deny => "qr_deny",
            Self::Redeem => "qr_redeem",
            Self::Expire => "qr_expire",
        }
    }
}

impl QrState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Scanned => "scanned",
            Self::Approved => "approved",
            Self::Consumed => "consumed",
            Self::Denied => "denied",
            Self::Expired => "expired",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use QrState::*;

    #[test]
    fn the_happy_path_is_scan_approve_redeem() {
        let state = QrTransition::Scan.apply(Pending).unwrap();
        let state = QrTransition::Approve.apply(state).unwrap();
        assert_eq!(QrTransition::Redeem.apply(state), Some(Consumed));
    }

    #[test]
    fn terminal_states_allow_nothing() {
        for state in [Consumed, Denied, Expired] {
            assert!(state.is_terminal());
            for transition in QrTransition::ALL {
                assert_eq!(
                    transition.apply(state),
                    None,
                    "{transition:?} from {state:?}"
                );
            }
        }
    }

    #[test]
    fn steps_cannot_be_skipped_or_repeated() {
        assert_eq!(QrTransition::Approve.apply(Pending), None);
        assert_eq!(QrTransition::Redeem.apply(Scanned), None);
        assert_eq!(QrTransition::Scan.apply(Scanned), None);
        assert_eq!(QrTransition::Approve.apply(Approved), None);
        assert_eq!(QrTransition::Deny.apply(Approved), None);
    }

    #[test]
    fn state_names_match_the_wire_format() {
        for state in [Pending, Scanned, Approved, Consumed, Denied, Expired] {
            assert_eq!(serde_json::to_value(state).unwrap(), state.as_str());
        }
    }
}
