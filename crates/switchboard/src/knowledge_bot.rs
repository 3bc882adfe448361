//! The built-in knowledge bot: a smart-assist bot that suggests knowledge-base articles to the
//! agent while the agent talks with a customer.
//!
//! The contract with the hub: a smart-assist bot gets copies of a conversation's messages while
//! a person owns it. First a `conversationUpdate` whose `membersAdded` holds the agent, a
//! `ChannelAccount` with `aadObjectId` set — as in Microsoft's Omnichannel smart-assist sample,
//! the bot treats the conversation as escalated from then on (a message whose text is
//! `omnichannelfoobar` flips the same switch, as in the sample). Then every customer and agent
//! message arrives as a `message` whose `channelData.switchboard.copy` is `"customer"` or
//! `"agent"`. The bot's replies are shown only to the agent, in a suggestions panel, and each
//! carries `channelData.tags = "smartbot"`; the hub never meters the bot.
//!
//! What it does: for each customer message in an escalated conversation it searches the Contoso
//! knowledge base (`config/knowledge-base.toml`, built into the binary and indexed in memory at
//! startup with tantivy's BM25, titles weighing double) and replies with at most two articles
//! scoring at least [`MIN_SCORE`] and half the best score, none it already suggested in that
//! conversation: per article, a message whose text is the sentence the agent could send ("This
//! article should help: <title> — <url>") with an Adaptive Card to open the article or send it
//! with Omnichannel's `SendKB` custom action. No good hit, an agent's message, or anything that
//! is not a message: no reply.
//!
//! The decision is the pure [`respond`]; [`serve`] runs it as a Bot Framework bot (see
//! [`builtin_bot`](crate::builtin_bot)).

use std::collections::HashSet;
use std::future::Future;

use botframework::cards::ADAPTIVE_CARD;
use botframework::omnichannel::{TAG_SMARTBOT, TAGS_KEY};
use botframework::{Activity, ActivityType, Attachment};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tantivy::collector::TopDocs;
use tantivy::query::QueryParser;
use tantivy::schema::{Field, IndexRecordOption, STORED, Schema, TextFieldIndexing, TextOptions, Value as _};
use tantivy::tokenizer::{
    Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, StopWordFilter, TextAnalyzer,
};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, doc};
use tokio::net::TcpListener;

use crate::builtin_bot::{self, Memory};

/// The built-in knowledge base, so the binary works wherever it runs.
const BUILTIN_KNOWLEDGE_BASE: &str = include_str!("../../../config/knowledge-base.toml");

/// The lowest BM25 score worth an agent's attention. Measured on the built-in articles: a
/// question about an article's subject scores 8 to 22 for it ("I lost my card" 13, "what's the
/// fee for using my card abroad" 14), while one word the question shares with many articles
/// ("card": at most 5.1) or small talk ("good morning": 4.2) stays lower.
pub const MIN_SCORE: f32 = 7.0;
/// How close to the best hit another must score to be suggested too: a second article is worth
/// showing when it is nearly as relevant ("interest rate": home loans 15.1, savings 14.3), not
/// when it only shares the question's commonest words ("annual fee on my credit card": fees
/// 22.0, credit limit 9.5).
const RELATIVE_MIN_SCORE: f32 = 0.5;
/// The most articles suggested for one customer message.
pub const MAX_SUGGESTIONS: usize = 2;
/// The text of a message that marks its conversation escalated, as in Microsoft's sample.
pub const ESCALATION_SWITCH: &str = "omnichannelfoobar";

/// How much of a customer's message is searched, so a huge message cannot make a huge query.
const MAX_QUERY_CHARS: usize = 1_000;
/// How much more a word in the title counts than one in the summary or body.
const TITLE_BOOST: f32 = 2.0;
/// tantivy's `en_stem` (words lowercased, tokens over 40 bytes dropped, English stemming, so
/// "fees" finds "fee"), plus [`STOP_WORDS`].
const TOKENIZER: &str = "en_stem_stop";
/// Words that say nothing about a topic, dropped from articles and queries alike so that small
/// talk ("how do I …", "thanks, that helps") does not look relevant: Lucene's English list, plus
/// pronouns, question words, greetings and the pieces of contractions ("what's", "don't").
const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it", "no", "not", "of",
    "on", "or", "such", "that", "the", "their", "then", "there", "these", "they", "this", "to", "was", "will", "with",
    "i", "me", "my", "you", "your", "we", "our", "us", "he", "she", "his", "her", "its", "am", "have", "has", "had",
    "do", "does", "did", "can", "could", "would", "should", "so", "just", "about", "from", "how", "what", "when",
    "where", "why", "which", "who", "hi", "hello", "hey", "thanks", "thank", "please", "ok", "okay", "yes", "s", "t",
    "d", "ll", "m", "re", "ve",
];
/// The indexing thread's memory budget: tantivy's minimum, far more than the articles need.
const WRITER_MEMORY_BYTES: usize = 15_000_000;

/// One support article.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Article {
    /// Unique id: lowercase letters, digits and `-`.
    pub id: String,
    /// The title, bold on the card and weighing double in the search.
    pub title: String,
    /// Where the article is published.
    pub url: String,
    /// One sentence, shown on the card.
    pub summary: String,
    /// The article's text, searched but not shown.
    pub body: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KnowledgeBaseFile {
    article: Vec<Article>,
}

/// Why the knowledge base could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KnowledgeBaseError {
    /// The file is not TOML of the expected shape.
    #[error("the knowledge base is not valid: {0}")]
    Parse(#[from] toml::de::Error),
    /// The file holds no article.
    #[error("the knowledge base holds no article")]
    Empty,
    /// An article breaks a rule.
    #[error("knowledge base article `{id}` {reason}")]
    InvalidArticle {
        /// The article's id (as written).
        id: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The search index could not be built.
    #[error("the knowledge base could not be indexed: {0}")]
    Index(#[from] tantivy::TantivyError),
}

/// The articles and their in-memory BM25 index.
pub struct KnowledgeBase {
    articles: Vec<Article>,
    // Searchers come from the reader; the index is written once, so it never reloads.
    reader: IndexReader,
    parser: QueryParser,
    /// The stored field holding an article's position in `articles`.
    ordinal: Field,
}

impl std::fmt::Debug for KnowledgeBase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnowledgeBase")
            .field("articles", &self.articles.len())
            .finish_non_exhaustive()
    }
}

/// An article found for a query.
#[derive(Debug, Clone, Copy)]
pub struct Hit<'a> {
    /// The article.
    pub article: &'a Article,
    /// Its BM25 score.
    pub score: f32,
}

impl KnowledgeBase {
    /// The Contoso knowledge base built into the binary (`config/knowledge-base.toml`).
    pub fn builtin() -> Result<Self, KnowledgeBaseError> {
        Self::from_toml(BUILTIN_KNOWLEDGE_BASE)
    }

    /// Parses, checks and indexes a knowledge base written as `[[article]]` tables.
    pub fn from_toml(text: &str) -> Result<Self, KnowledgeBaseError> {
        let file: KnowledgeBaseFile = toml::from_str(text)?;
        let articles = file
            .article
            .into_iter()
            .map(Article::checked)
            .collect::<Result<Vec<_>, _>>()?;
        if articles.is_empty() {
            return Err(KnowledgeBaseError::Empty);
        }
        let mut ids = HashSet::new();
        if let Some(twice) = articles.iter().find(|article| !ids.insert(article.id.as_str())) {
            return Err(KnowledgeBaseError::InvalidArticle {
                id: twice.id.clone(),
                reason: "appears twice",
            });
        }
        Self::index(articles)
    }

    fn index(articles: Vec<Article>) -> Result<Self, KnowledgeBaseError> {
        let mut schema = Schema::builder();
        let searched = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(TOKENIZER)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        );
        let title = schema.add_text_field("title", searched.clone());
        let summary = schema.add_text_field("summary", searched.clone());
        let body = schema.add_text_field("body", searched);
        let ordinal = schema.add_u64_field("ordinal", STORED);
        let index = Index::create_in_ram(schema.build());
        index.tokenizers().register(TOKENIZER, analyzer());

        let mut writer: IndexWriter<TantivyDocument> = index.writer_with_num_threads(1, WRITER_MEMORY_BYTES)?;
        for (position, article) in (0u64..).zip(&articles) {
            writer.add_document(doc!(
                title => article.title.as_str(),
                summary => article.summary.as_str(),
                body => article.body.as_str(),
                ordinal => position,
            ))?;
        }
        writer.commit()?;
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;

        let mut parser = QueryParser::for_index(&index, vec![title, summary, body]);
        parser.set_field_boost(title, TITLE_BOOST);
        Ok(Self {
            articles,
            reader,
            parser,
            ordinal,
        })
    }

    /// Every article, in the file's order.
    pub fn articles(&self) -> &[Article] {
        &self.articles
    }

    /// The articles matching `text`, read as free words (no query syntax), best first, each
    /// scoring at least [`MIN_SCORE`] and at least half the best. A search that fails is logged
    /// and finds nothing.
    pub fn search(&self, text: &str) -> Vec<Hit<'_>> {
        let words = query_words(text);
        if words.trim().is_empty() {
            return Vec::new();
        }
        // Only letters, digits and spaces remain, so nothing can fail to parse; lenient anyway.
        let (query, _) = self.parser.parse_query_lenient(&words);
        let searcher = self.reader.searcher();
        let found = match searcher.search(&query, &TopDocs::with_limit(self.articles.len()).order_by_score()) {
            Ok(found) => found,
            Err(error) => {
                tracing::warn!(error = %error, "knowledge base search failed");
                return Vec::new();
            }
        };
        // Sorted best first, so the first score is the best.
        let best = found.first().map_or(0.0, |(score, _)| *score);
        found
            .into_iter()
            .filter(|(score, _)| *score >= MIN_SCORE && *score >= best * RELATIVE_MIN_SCORE)
            .filter_map(|(score, address)| {
                let stored: TantivyDocument = match searcher.doc(address) {
                    Ok(stored) => stored,
                    Err(error) => {
                        tracing::warn!(error = %error, "knowledge base hit could not be read");
                        return None;
                    }
                };
                let position = stored.get_first(self.ordinal)?.as_u64()?;
                let article = self.articles.get(usize::try_from(position).ok()?)?;
                Some(Hit { article, score })
            })
            .collect()
    }
}

impl Article {
    /// The article with its fields trimmed, if it keeps the rules.
    fn checked(self) -> Result<Self, KnowledgeBaseError> {
        let trimmed = |field: String| field.trim().to_owned();
        let article = Self {
            id: trimmed(self.id),
            title: trimmed(self.title),
            url: trimmed(self.url),
            summary: trimmed(self.summary),
            body: trimmed(self.body),
        };
        let invalid = |reason| {
            Err(KnowledgeBaseError::InvalidArticle {
                id: article.id.clone(),
                reason,
            })
        };
        if article.id.is_empty()
            || !article
                .id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return invalid("has an id that is not lowercase letters, digits and '-'");
        }
        if article.title.is_empty() || article.summary.is_empty() || article.body.is_empty() {
            return invalid("needs a title, a summary and a body");
        }
        if !article.url.starts_with("https://") {
            return invalid("needs an https:// url");
        }
        Ok(article)
    }
}

fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(StopWordFilter::remove(STOP_WORDS.iter().map(|&word| word.to_owned())))
        .filter(Stemmer::new(Language::English))
        .build()
}

/// `text` as plain lowercase words: the query syntax's characters become spaces and its
/// upper-case operators (`AND`, `OR`, `NOT`, `IN`) ordinary words.
fn query_words(text: &str) -> String {
    text.chars()
        .take(MAX_QUERY_CHARS)
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect::<String>()
        .to_lowercase()
}

/// The articles already suggested in a conversation the bot assists in.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Suggested(Vec<String>);

/// The conversations the bot saw escalated, each with what it suggested there; forgotten when
/// the bot is removed from the conversation or gets `endOfConversation`.
pub type Conversations = Memory<Suggested>;

/// Who wrote the message a smart-assist bot got a copy of (`channelData.switchboard.copy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Author {
    Customer,
    Agent,
}

impl Author {
    fn of(message: &Activity) -> Option<Self> {
        match message.channel_data_field("switchboard")?.get("copy")?.as_str()? {
            "customer" => Some(Self::Customer),
            "agent" => Some(Self::Agent),
            _ => None,
        }
    }
}

/// The replies to `incoming`, each addressed as a reply to it: the articles to suggest for a
/// customer's message in an escalated conversation, or nothing. Updates `conversations` as a
/// side effect; does no I/O.
pub fn respond(incoming: &Activity, conversations: &Conversations, kb: &KnowledgeBase) -> Vec<Activity> {
    let Some(conversation) = incoming.conversation.as_ref().map(|c| c.id.as_str()) else {
        return Vec::new();
    };
    match &incoming.kind {
        ActivityType::ConversationUpdate => {
            let bot = incoming.recipient.as_ref().map(|r| r.id.as_str());
            if builtin_bot::removes_recipient(incoming) {
                conversations.forget(conversation);
            } else if incoming.members_added.iter().flatten().any(|member| {
                Some(member.id.as_str()) != bot && member.aad_object_id.as_deref().is_some_and(|id| !id.is_empty())
            }) {
                escalated(conversation, conversations);
            }
            Vec::new()
        }
        ActivityType::EndOfConversation => {
            conversations.forget(conversation);
            Vec::new()
        }
        ActivityType::Message => {
            let text = incoming.text.as_deref().unwrap_or_default();
            if text.trim().eq_ignore_ascii_case(ESCALATION_SWITCH) {
                escalated(conversation, conversations);
                return Vec::new();
            }
            if Author::of(incoming) != Some(Author::Customer) {
                return Vec::new();
            }
            let Some(Suggested(mut suggested)) = conversations.get(conversation) else {
                return Vec::new();
            };
            let fresh: Vec<&Article> = kb
                .search(text)
                .into_iter()
                .map(|hit| hit.article)
                .filter(|article| !suggested.contains(&article.id))
                .take(MAX_SUGGESTIONS)
                .collect();
            if fresh.is_empty() {
                return Vec::new();
            }
            suggested.extend(fresh.iter().map(|article| article.id.clone()));
            conversations.remember(conversation, Suggested(suggested));
            fresh.into_iter().map(|article| suggestion(article, incoming)).collect()
        }
        _ => Vec::new(),
    }
}

fn escalated(conversation: &str, conversations: &Conversations) {
    if conversations.get(conversation).is_none() {
        tracing::debug!(
            conversation.id = conversation,
            "knowledge bot assists an escalated conversation"
        );
        conversations.remember(conversation, Suggested::default());
    }
}

/// The suggestion of `article`, for the agent's panel.
fn suggestion(article: &Article, incoming: &Activity) -> Activity {
    let mut reply = Activity::message(format!("This article should help: {} — {}", article.title, article.url))
        .in_reply_to(incoming);
    reply.set_channel_data_field(TAGS_KEY, Value::from(TAG_SMARTBOT));
    reply.attachments = Some(vec![article_card(article)]);
    reply
}

/// An Adaptive Card (1.2) showing the article, with buttons to open it and to send it to the
/// customer through Omnichannel's `SendKB` custom action.
fn article_card(article: &Article) -> Attachment {
    let card = json!({
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.2",
        "body": [
            {"type": "TextBlock", "text": "Knowledge article", "isSubtle": true, "size": "Small"},
            {"type": "TextBlock", "text": article.title, "weight": "Bolder", "wrap": true},
            {"type": "TextBlock", "text": article.summary, "wrap": true}
        ],
        "actions": [
            {"type": "Action.OpenUrl", "title": "Open", "url": article.url},
            {
                "type": "Action.Submit",
                "title": "Send",
                "data": {"CustomAction": "SendKB", "CustomParameters": {"kbLink": article.url}}
            }
        ]
    });
    Attachment {
        content_type: ADAPTIVE_CARD.to_owned(),
        content_url: None,
        content: Some(card),
        name: None,
        thumbnail_url: None,
        extra: Map::new(),
    }
}

/// Serves the knowledge bot's `POST /api/messages` on `listener` until `shutdown` completes, as
/// [`demo_bot::serve`](crate::demo_bot::serve) does: replies go through the Connector API under
/// the incoming `serviceUrl` before the hub's POST is answered (200; 400 for a body that is not
/// an activity; 500 when a reply could not be delivered).
///
/// The knowledge base is indexed first; an error doing so (which would be a fault in the built-in
/// file) is returned before anything is served.
pub async fn serve(listener: TcpListener, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    builtin_bot::serve(
        "knowledge bot",
        router("/api/messages", None).await?,
        listener,
        shutdown,
    )
    .await
}

/// The knowledge bot as `POST path`, for the hub's own listener (the knowledge base is
/// indexed first).
pub async fn router(path: &str, cluster: Option<std::sync::Arc<store::Cluster>>) -> std::io::Result<axum::Router> {
    // Indexing writes on tantivy's own thread and waits for it: keep it off the runtime's threads.
    let kb = tokio::task::spawn_blocking(KnowledgeBase::builtin)
        .await
        .map_err(std::io::Error::other)?
        .map_err(std::io::Error::other)?;
    tracing::debug!(articles = kb.articles().len(), "knowledge base indexed");
    // Shared by all turns, which run concurrently; `Conversations` locks internally and
    // searching the index takes `&self`.
    let conversations = std::sync::Arc::new(Conversations::default());
    let shared = cluster.map(|cluster| builtin_bot::SharedMemory {
        memory: conversations.clone(),
        cluster,
    });
    builtin_bot::router(
        "knowledge bot",
        move |incoming: &Activity| respond(incoming, &conversations, &kb),
        path,
        shared,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use botframework::validate;
    use std::sync::LazyLock;

    static KB: LazyLock<KnowledgeBase> = LazyLock::new(|| KnowledgeBase::builtin().unwrap());

    fn activity(value: Value) -> Activity {
        crate::builtin_bot::test_activity("KnowledgeBot", "Contoso Knowledge", value)
    }

    fn customer_says(text: &str) -> Activity {
        activity(json!({
            "type": "message", "text": text,
            "channelData": {"switchboard": {"copy": "customer"}}
        }))
    }

    fn agent_says(text: &str) -> Activity {
        activity(json!({
            "type": "message", "text": text,
            "from": {"id": "agent-alex", "name": "Alex", "aadObjectId": "00000000-0000-0000-0000-00000000a1e8"},
            "channelData": {"switchboard": {"copy": "agent"}}
        }))
    }

    fn agent_joins() -> Activity {
        activity(json!({
            "type": "conversationUpdate",
            "membersAdded": [{"id": "agent-alex", "name": "Alex", "aadObjectId": "00000000-0000-0000-0000-00000000a1e8"}]
        }))
    }

    fn escalated() -> Conversations {
        let conversations = Conversations::default();
        assert!(respond(&agent_joins(), &conversations, &KB).is_empty());
        conversations
    }

    fn top(text: &str) -> Option<&'static str> {
        KB.search(text).first().map(|hit| hit.article.id.as_str())
    }

    #[test]
    fn the_built_in_knowledge_base_parses_and_indexes_every_article() {
        assert!(KB.articles().len() >= 12);
        for article in KB.articles() {
            assert_eq!(
                article.url,
                format!("https://support.contoso.example/kb/{}", article.id)
            );
            assert_eq!(top(&article.title), Some(article.id.as_str()), "{}", article.title);
        }
    }

    #[test]
    fn questions_about_card_fees_find_the_card_fees_article_first() {
        for question in [
            "How much is the annual fee on my credit card?",
            "what's the fee for using my card abroad",
        ] {
            assert_eq!(top(question), Some("credit-card-fees"), "{question}");
        }
    }

    #[test]
    fn a_lost_card_finds_the_lost_or_stolen_article() {
        assert_eq!(top("I lost my card"), Some("lost-or-stolen-card"));
        assert_eq!(top("My card was STOLEN!!"), Some("lost-or-stolen-card"));
    }

    #[test]
    fn other_questions_find_their_articles() {
        for (question, expected) in [
            ("what papers do I need to apply for a mortgage?", "home-loan-documents"),
            ("I forgot my password and can't log in", "reset-online-banking-password"),
            ("how do I send money to my sister overseas", "international-transfers"),
            (
                "there is a charge on my statement I don't recognise",
                "dispute-a-charge",
            ),
            ("when are you open on saturday", "opening-hours-and-branches"),
            ("I moved house", "change-of-address"),
            ("why was my payment declined", "declined-card-payment"),
        ] {
            assert_eq!(top(question), Some(expected), "{question}");
        }
    }

    #[test]
    fn a_second_article_is_suggested_only_when_nearly_as_relevant() {
        let ids = |text: &str| -> Vec<&str> { KB.search(text).iter().map(|hit| hit.article.id.as_str()).collect() };
        assert_eq!(
            ids("what is the interest rate"),
            ["home-loan-rates", "savings-account-interest"]
        );
        assert_eq!(
            ids("How much is the annual fee on my credit card?"),
            ["credit-card-fees"]
        );
    }

    #[test]
    fn gibberish_and_small_talk_find_nothing() {
        for text in [
            "xyzzy plugh",
            "thanks, that helps",
            "hello",
            "ok",
            "",
            "???",
            "AND OR NOT",
        ] {
            assert!(KB.search(text).is_empty(), "`{text}` found {:?}", KB.search(text));
        }
    }

    #[test]
    fn query_syntax_in_a_message_is_read_as_words() {
        assert_eq!(
            top("title:(lost card) -\"stolen\" [fee TO"),
            Some("lost-or-stolen-card")
        );
    }

    #[test]
    fn a_customer_message_in_an_escalated_conversation_gets_a_suggestion_for_the_agent() {
        let conversations = escalated();
        let replies = respond(&customer_says("I lost my card"), &conversations, &KB);
        assert!(!replies.is_empty() && replies.len() <= MAX_SUGGESTIONS);
        let reply = &replies[0];
        assert_eq!(reply.channel_data, Some(json!({"tags": "smartbot"})));
        assert_eq!(
            reply.text.as_deref(),
            Some(
                "This article should help: Report a lost or stolen card — \
                 https://support.contoso.example/kb/lost-or-stolen-card"
            )
        );
        let attachments = reply.attachments.as_ref().unwrap();
        assert_eq!(attachments.len(), 1);
        assert_eq!(attachments[0].content_type, "application/vnd.microsoft.card.adaptive");
        let card = attachments[0].content.as_ref().unwrap();
        assert_eq!(card["version"], "1.2");
        assert_eq!(
            card["body"][0],
            json!({"type": "TextBlock", "text": "Knowledge article", "isSubtle": true, "size": "Small"})
        );
        assert_eq!(card["body"][1]["text"], "Report a lost or stolen card");
        assert_eq!(card["body"][1]["weight"], "Bolder");
        assert_eq!(card["body"][2]["wrap"], true);
        let url = "https://support.contoso.example/kb/lost-or-stolen-card";
        assert_eq!(
            card["actions"],
            json!([
                {"type": "Action.OpenUrl", "title": "Open", "url": url},
                {"type": "Action.Submit", "title": "Send",
                 "data": {"CustomAction": "SendKB", "CustomParameters": {"kbLink": url}}}
            ])
        );
        for reply in &replies {
            assert_eq!(reply.reply_to_id.as_deref(), Some("act-7"));
            assert_eq!(reply.from.as_ref().unwrap().id, "KnowledgeBot");
            validate::validate_from_bot(reply).unwrap();
        }
    }

    #[test]
    fn nothing_is_suggested_before_the_conversation_is_escalated() {
        let conversations = Conversations::default();
        assert!(respond(&customer_says("I lost my card"), &conversations, &KB).is_empty());
        let customer_joins = activity(json!({"type": "conversationUpdate", "membersAdded": [{"id": "u-42"}]}));
        assert!(respond(&customer_joins, &conversations, &KB).is_empty());
        assert!(respond(&customer_says("I lost my card"), &conversations, &KB).is_empty());
        assert!(conversations.is_empty());
    }

    #[test]
    fn the_samples_switch_message_marks_the_conversation_escalated() {
        let conversations = Conversations::default();
        assert!(respond(&customer_says("omnichannelfoobar"), &conversations, &KB).is_empty());
        assert_eq!(respond(&customer_says("I lost my card"), &conversations, &KB).len(), 1);
    }

    #[test]
    fn agent_copies_and_unmarked_messages_are_ignored() {
        let conversations = escalated();
        assert!(respond(&agent_says("Did you lose your card?"), &conversations, &KB).is_empty());
        let unmarked = activity(json!({"type": "message", "text": "I lost my card"}));
        assert!(respond(&unmarked, &conversations, &KB).is_empty());
    }

    #[test]
    fn no_good_hit_gets_no_reply() {
        let conversations = escalated();
        assert!(respond(&customer_says("xyzzy plugh"), &conversations, &KB).is_empty());
    }

    #[test]
    fn an_article_is_suggested_once_per_conversation() {
        let conversations = escalated();
        assert!(!respond(&customer_says("I lost my card"), &conversations, &KB).is_empty());
        let again = respond(&customer_says("I lost my card"), &conversations, &KB);
        assert!(
            again
                .iter()
                .all(|reply| !reply.text.as_ref().unwrap().contains("lost-or-stolen"))
        );
    }

    #[test]
    fn removing_the_bot_or_the_end_forgets_the_conversation() {
        for ended in [
            activity(json!({"type": "endOfConversation"})),
            activity(json!({"type": "conversationUpdate", "membersRemoved": [{"id": "KnowledgeBot"}]})),
        ] {
            let conversations = escalated();
            assert!(respond(&ended, &conversations, &KB).is_empty());
            assert!(conversations.is_empty());
        }
    }

    #[test]
    fn typing_and_events_get_no_reply() {
        let conversations = escalated();
        assert!(respond(&activity(json!({"type": "typing"})), &conversations, &KB).is_empty());
        let event = activity(json!({"type": "event", "name": "startConversation", "value": {}}));
        assert!(respond(&event, &conversations, &KB).is_empty());
    }

    #[test]
    fn a_knowledge_base_with_a_bad_article_is_refused() {
        let article = |id: &str, url: &str| {
            format!("[[article]]\nid = \"{id}\"\ntitle = \"T\"\nurl = \"{url}\"\nsummary = \"S\"\nbody = \"B\"\n")
        };
        let twice = format!("{}{}", article("a", "https://x/a"), article("a", "https://x/b"));
        for (text, reason) in [
            (twice.as_str(), "appears twice"),
            (&article("Bad Id", "https://x/a"), "id"),
            (&article("a", "http://x/a"), "https://"),
        ] {
            let error = KnowledgeBase::from_toml(text).unwrap_err();
            assert!(error.to_string().contains(reason), "{error}");
        }
        assert!(matches!(
            KnowledgeBase::from_toml("article = []"),
            Err(KnowledgeBaseError::Empty)
        ));
        assert!(matches!(
            KnowledgeBase::from_toml("[[article]]\nid = 1"),
            Err(KnowledgeBaseError::Parse(_))
        ));
    }

    #[tokio::test]
    async fn the_served_bot_indexes_its_articles_and_delivers_suggestions_through_the_connector() {
        use axum::extract::State;
        use std::sync::{Arc, Mutex};

        type Log = Arc<Mutex<Vec<Activity>>>;
        async fn record(State(log): State<Log>, axum::Json(activity): axum::Json<Activity>) -> axum::Json<Value> {
            log.lock().unwrap().push(activity);
            axum::Json(json!({"id": "hub-act-1"}))
        }
        let log = Log::default();
        let channel = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let service_url = format!("http://{}/", channel.local_addr().unwrap());
        let app = axum::Router::new()
            .fallback(axum::routing::post(record))
            .with_state(log.clone());
        tokio::spawn(async move { axum::serve(channel, app).await.unwrap() });

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}/api/messages", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let bot = tokio::spawn(serve(listener, async {
            let _ = stopped.await;
        }));
        let client = reqwest::Client::new();
        for mut turn in [agent_joins(), customer_says("I lost my card")] {
            turn.service_url = Some(service_url.clone());
            let answered = client.post(&endpoint).json(&turn).send().await.unwrap();
            assert_eq!(answered.status(), reqwest::StatusCode::OK);
        }
        {
            let log = log.lock().unwrap();
            assert_eq!(log.len(), 1);
            assert_eq!(log[0].channel_data, Some(json!({"tags": "smartbot"})));
        }
        stop.send(()).unwrap();
        bot.await.unwrap().unwrap();
    }
}
