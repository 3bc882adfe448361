//! People signing in, and what each may read.
//!
//! Passwords are argon2id hashes (PHC strings): the database's, set with `switchboard user
//! passwd`, win over a `password_hash` in the configuration. A sign-in makes a session: 256
//! random bits, handed to the person once and stored only as their SHA-256, so a copy of the
//! database does not let anyone in.
//!
//! Reading: an admin reads every conversation; a supervisor those of the queues they are a
//! member of or supervise; an agent those they own, owned, or are offered.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine as _;
use domain::conversation::{Conversation, Owner};
use domain::user::{Role, User};
use domain::{QueueName, Timestamp, UserName};
use sha2::{Digest, Sha256};

use crate::hub::{EngineError, Hub};

/// How long a session lasts.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);

/// What the configuration says about a person beyond the domain's user: their password hash
/// and the queues they supervise.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersonSettings {
    /// An argon2 PHC string, or none (then only a password set in the database works).
    pub password_hash: Option<String>,
    /// Queues a supervisor oversees besides those they are a member of.
    pub supervises: Vec<QueueName>,
}

/// Every person's settings, by name.
pub type People = HashMap<UserName, PersonSettings>;

/// A person who just signed in.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The session token, shown to the person once.
    pub token: String,
    pub user: User,
    pub role: Role,
    pub expires_at: Timestamp,
}

/// An argon2id hash of `password` with a fresh salt, as a PHC string.
pub fn hash_password(password: &str) -> Result<String, EngineError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| EngineError::Invalid(format!("cannot hash the password: {e}")))
}

/// Whether `hash` is an argon2 PHC string this hub can verify against.
pub fn check_password_hash(hash: &str) -> Result<(), String> {
    let parsed = PasswordHash::new(hash).map_err(|e| format!("not a PHC password hash: {e}"))?;
    if !parsed.algorithm.as_str().starts_with("argon2") {
        return Err(format!("`{}` hashes are not supported; use argon2id", parsed.algorithm));
    }
    Ok(())
}

fn verify(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// The stored form of a session token.
pub fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

const WRONG: &str = "wrong name or password";

impl Hub {
    /// Signs `name` in with `password`. An unknown name, a bot, a person without a password
    /// and a wrong password all get the same answer, so the answer does not tell which names
    /// exist.
    pub async fn sign_in(&self, name: &str, password: &str) -> Result<SignedIn, EngineError> {
        let unauthorized = || EngineError::Unauthorized(WRONG.to_owned());
        let Some(user) = self.tenant().user(name).filter(|u| !u.is_bot()).cloned() else {
            return Err(unauthorized());
        };
        let (_, role, _) = self.person(&user.name)?;
        let hash = match self.store().password_hash(&user.name).await? {
            Some(hash) => Some(hash),
            None => self.people.get(&user.name).and_then(|p| p.password_hash.clone()),
        };
        let Some(hash) = hash else { return Err(unauthorized()) };
        let password = password.to_owned();
        let ok = tokio::task::spawn_blocking(move || verify(&password, &hash))
            .await
            .unwrap_or(false);
        if !ok {
            tracing::info!(user = %user.name, "sign-in refused");
            return Err(unauthorized());
        }
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let now = crate::now();
        let expires_at = Timestamp(now.millis() + i64::try_from(SESSION_LIFETIME.as_millis()).unwrap_or(i64::MAX / 2));
        self.store()
            .insert_session(&store::Session {
                token_hash: token_hash(&token),
                user: user.name.clone(),
                created_at: now,
                expires_at,
            })
            .await?;
        tracing::info!(user = %user.name, "signed in");
        Ok(SignedIn {
            token,
            user,
            role,
            expires_at,
        })
    }

    /// The person a session token belongs to, while the session lasts.
    pub async fn session_user(&self, token: &str) -> Result<Option<(User, Role)>, EngineError> {
        let Some(session) = self.store().session(&token_hash(token), crate::now()).await? else {
            return Ok(None);
        };
        Ok(self
            .person(&session.user)
            .ok()
            .map(|(user, role, _)| (user.clone(), role)))
    }

    /// Ends the session of `token`.
    pub async fn sign_out(&self, token: &str) -> Result<(), EngineError> {
        Ok(self.store().delete_session(&token_hash(token)).await?)
    }

    /// Sets `name`'s password (stored as a fresh argon2id hash); their sessions end.
    pub async fn set_password(&self, name: &str, password: &str) -> Result<(), EngineError> {
        let user = self
            .tenant()
            .user(name)
            .filter(|u| !u.is_bot())
            .ok_or_else(|| EngineError::UnknownUser(name.to_owned()))?
            .name
            .clone();
        let password = password.to_owned();
        let hash = tokio::task::spawn_blocking(move || hash_password(&password))
            .await
            .map_err(|e| EngineError::Invalid(e.to_string()))??;
        self.store().set_password_hash(&user, &hash, crate::now()).await?;
        Ok(())
    }

    /// The queues whose conversations `user` oversees: those they are a member of, and as a
    /// supervisor those they supervise.
    pub fn overseen_queues(&self, user: &UserName, role: Role) -> Vec<QueueName> {
        let mut queues = self.queues_of(user);
        if role >= Role::Supervisor
            && let Some(person) = self.people.get(user)
        {
            for q in &person.supervises {
                if !queues.contains(q) {
                    queues.push(q.clone());
                }
            }
        }
        queues
    }

    /// Whether `user` (with `role`) may read `conversation` and its transcript.
    pub async fn may_read(
        &self,
        user: &UserName,
        role: Role,
        conversation: &Conversation,
    ) -> Result<bool, EngineError> {
        match role {
            Role::Admin => return Ok(true),
            Role::Supervisor => {
                if conversation
                    .queue
                    .as_ref()
                    .is_some_and(|q| self.overseen_queues(user, role).contains(q))
                {
                    return Ok(true);
                }
            }
            Role::Agent => {}
        }
        if conversation.owner == Some(Owner::Agent(user.clone())) {
            return Ok(true);
        }
        // The open list of a pick workstream is there to be read before picking.
        if conversation.state == domain::ConversationState::Waiting
            && self.is_pick(conversation)
            && conversation
                .queue
                .as_ref()
                .is_some_and(|q| self.queues_of(user).contains(q))
        {
            return Ok(true);
        }
        if self.offer(conversation.id).is_some_and(|o| &o.agent == user) {
            return Ok(true);
        }
        Ok(self.agents_of(conversation.id).await?.contains(user))
    }
}

impl Hub {
    /// Whether `conversation` belongs to a `pick` workstream (agents take its work from a list).
    pub fn is_pick(&self, conversation: &Conversation) -> bool {
        self.tenant()
            .workstream(conversation.workstream.as_str())
            .is_some_and(|ws| ws.mode == domain::workstream::DistributionMode::Pick)
    }

    /// Gives the hub the people's settings from the configuration (before it starts).
    pub fn with_people(mut self, people: People) -> Self {
        self.people = Arc::new(people);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let hash = hash_password("switchboard-demo").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        check_password_hash(&hash).unwrap();
        assert!(verify("switchboard-demo", &hash));
        assert!(!verify("switchboard-demo ", &hash));
        assert!(check_password_hash("plain text").is_err());
    }

    #[test]
    fn token_hashes_are_hex_sha256() {
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
