//! People signing in, and what each may read.
//!
//! Passwords are argon2id hashes (PHC strings): the database's, set with `switchboard user
//! passwd`, win over a `password_hash` in the configuration. They are checked a few at a time
//! (`passwords`), and only while neither the account nor the client's address has to wait after
//! too many wrong ones (`throttle`). A sign-in makes a session: 256 random bits, handed to the
//! person once and stored only as their SHA-256, so a copy of the database does not let anyone
//! in.
//!
//! Reading: an admin reads every conversation; a supervisor those of the queues they are a
//! member of or supervise; an agent those they own, owned, or are offered.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use argon2::password_hash::rand_core::{OsRng, RngCore};
use base64::Engine as _;
use domain::conversation::{Conversation, Owner};
use domain::user::{Role, User};
use domain::{QueueName, Timestamp, UserName};
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use crate::hub::{EngineError, Hub};
use crate::passwords::{DUMMY_HASH, PasswordChecks, hash_password};
use crate::throttle::{SignInLimits, SignInThrottle};

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

/// The stored form of a session token.
pub fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Why a sign-in did not make a session.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// An unknown name, a bot, a person without a password or a wrong password: one answer
    /// for all, so it does not tell which names exist.
    #[error("wrong name or password")]
    Wrong,
    /// Too many wrong passwords for this name or from this address; the password was not
    /// checked.
    #[error("too many wrong passwords for this name or from this address")]
    TooManyAttempts { retry_after: Duration },
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl Hub {
    /// Signs `name` in with `password`, asked from `client`'s address.
    ///
    /// While the name or the address must wait after too many wrong passwords the attempt is
    /// refused unchecked. Otherwise the password is checked once a checker is free (the wait
    /// is checked again then: guesses queued together do not all get through); names without
    /// a password are checked against a dummy hash of the same cost, so timing does not tell
    /// them apart.
    pub async fn sign_in(&self, name: &str, password: &str, client: IpAddr) -> Result<SignedIn, SignInError> {
        self.admit_sign_in(name, client)?;
        let person = self.password_of(name).await?;
        let slot = self.password_checks.slot().await;
        self.admit_sign_in(name, client)?;
        let hash = person.as_ref().map_or(DUMMY_HASH, |(_, _, hash)| hash.as_str());
        let matched = slot.verify(password, hash).await;
        let Some((user, role, _)) = person.filter(|_| matched) else {
            self.sign_in_throttle.failed(name, client, Instant::now());
            metrics::counter!("switchboard_sign_ins_total", "outcome" => "wrong").increment(1);
            // Only names that exist are logged: the others are whatever a stranger typed.
            let known = self.tenant().user(name).map(|u| u.name.to_string());
            tracing::info!(user = known, client.addr = %client, "sign-in refused");
            return Err(SignInError::Wrong);
        };
        self.sign_in_throttle.succeeded(name);
        let signed = self.start_session(user, role).await?;
        metrics::counter!("switchboard_sign_ins_total", "outcome" => "signed_in").increment(1);
        tracing::info!(user = %signed.user.name, client.addr = %client, "signed in");
        Ok(signed)
    }

    /// The person named `name` with their role and password hash; `None` for an unknown name,
    /// a bot, or a person without a password.
    async fn password_of(&self, name: &str) -> Result<Option<(User, Role, String)>, EngineError> {
        let Some(user) = self.tenant().user(name).filter(|u| !u.is_bot()).cloned() else {
            return Ok(None);
        };
        let (_, role, _) = self.person(&user.name)?;
        let hash = match self.store().password_hash(&user.name).await? {
            Some(hash) => Some(hash),
            None => self.people.get(&user.name).and_then(|p| p.password_hash.clone()),
        };
        Ok(hash.map(|hash| (user, role, hash)))
    }

    /// A new session for `user`.
    async fn start_session(&self, user: User, role: Role) -> Result<SignedIn, EngineError> {
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
        Ok(SignedIn {
            token,
            user,
            role,
            expires_at,
        })
    }

    /// `Ok` unless `name` or `client` must wait after too many wrong passwords.
    fn admit_sign_in(&self, name: &str, client: IpAddr) -> Result<(), SignInError> {
        self.sign_in_throttle
            .admit(name, client, Instant::now())
            .map_err(|retry_after| {
                metrics::counter!("switchboard_sign_ins_total", "outcome" => "throttled").increment(1);
                tracing::debug!(user = name, client.addr = %client, wait_ms = retry_after.as_millis() as u64, "sign-in attempt refused: too many wrong passwords");
                SignInError::TooManyAttempts { retry_after }
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
        if self.offer(conversation.id).await?.is_some_and(|o| &o.agent == user) {
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

    /// Sets how much password guessing is tolerated and how many checks run at once (before
    /// it starts).
    pub fn with_sign_in_limits(mut self, limits: SignInLimits) -> Self {
        self.sign_in_throttle = SignInThrottle::new(limits);
        self.password_checks = PasswordChecks::new(limits.checks_at_once);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_hashes_are_hex_sha256() {
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
