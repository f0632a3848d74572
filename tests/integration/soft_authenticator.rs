//! A software passkey authenticator (1Password's passkey-rs client and authenticator), shared by
//! the integration tests and the passkey sign-in benchmark (`bench/passkey_sign_in.rs`).

use passkey_authenticator::{
    Authenticator, CredentialStore, DiscoverabilitySupport, StoreInfo, UiHint, UserCheck,
    UserValidationMethod,
};
use passkey_client::Client;
use passkey_crypto::AvailableBackend;
use passkey_types::{
    Passkey as SoftKey,
    ctap2::{
        self, StatusCode,
        make_credential::{Options, PublicKeyCredentialRpEntity, PublicKeyCredentialUserEntity},
    },
    webauthn::PublicKeyCredentialDescriptor,
};

/// The person at the authenticator: always present; verified (fingerprint, PIN) or not.
pub struct Person {
    pub verified: bool,
}

#[async_trait::async_trait]
impl UserValidationMethod for Person {
    type PasskeyItem = SoftKey;

    async fn check_user<'a>(
        &self,
        _hint: UiHint<'a, SoftKey>,
        presence: bool,
        verification: bool,
    ) -> Result<UserCheck, ctap2::Ctap2Error> {
        Ok(UserCheck {
            presence,
            verification: verification && self.verified,
        })
    }

    fn is_presence_enabled(&self) -> bool {
        true
    }

    fn is_verification_enabled(&self) -> Option<bool> {
        Some(true)
    }
}

/// The authenticator's passkeys. Unlike passkey-rs' `MemoryStore` it finds them by relying
/// party when the site names none, as a phone or password manager does for a username-less
/// sign-in.
#[derive(Clone, Default)]
pub struct Keyring(Vec<SoftKey>);

#[async_trait::async_trait]
impl CredentialStore for Keyring {
    type PasskeyItem = SoftKey;

    async fn find_credentials(
        &self,
        ids: Option<&[PublicKeyCredentialDescriptor]>,
        rp_id: &str,
        _user_handle: Option<&[u8]>,
    ) -> Result<Vec<SoftKey>, StatusCode> {
        let found: Vec<SoftKey> = self
            .0
            .iter()
            .filter(|key| key.rp_id == rp_id)
            .filter(|key| match ids {
                Some(ids) if !ids.is_empty() => ids.iter().any(|d| d.id == key.credential_id),
                _ => true,
            })
            .cloned()
            .collect();
        if found.is_empty() {
            Err(ctap2::Ctap2Error::NoCredentials.into())
        } else {
            Ok(found)
        }
    }

    async fn save_credential(
        &mut self,
        key: SoftKey,
        _user: PublicKeyCredentialUserEntity,
        _rp: PublicKeyCredentialRpEntity,
        _options: Options,
    ) -> Result<(), StatusCode> {
        self.0.push(key);
        Ok(())
    }

    async fn update_credential(&mut self, key: &SoftKey) -> Result<(), StatusCode> {
        for stored in &mut self.0 {
            if stored.credential_id == key.credential_id {
                *stored = key.clone();
            }
        }
        Ok(())
    }

    async fn get_info(&self) -> StoreInfo {
        StoreInfo {
            discoverability: DiscoverabilitySupport::Full,
        }
    }
}

pub type SoftAuthenticator =
    Client<Keyring, Person, AvailableBackend, public_suffix::PublicSuffixList, ()>;

pub fn authenticator() -> SoftAuthenticator {
    authenticator_with(Keyring::default(), false)
}

pub fn authenticator_with(store: Keyring, counter: bool) -> SoftAuthenticator {
    let mut authenticator = Authenticator::new(
        ctap2::Aaguid::new_empty(),
        store,
        Person { verified: true },
        AvailableBackend,
    );
    authenticator.set_make_credentials_with_signature_counter(counter);
    Client::new(authenticator).allows_insecure_localhost(true)
}
