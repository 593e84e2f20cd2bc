//! [`MessageStream`]: the consumer's records as a `Stream` (rust-rdkafka's `MessageStream` is
//! the model).

use super::client::Consumer;
use super::fetch::ConsumerRecord;
use crate::Result;
use futures_core::Stream;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

type Recv<'a> = Pin<Box<dyn Future<Output = Result<ConsumerRecord>> + Send + 'a>>;

/// The records of a [`Consumer`] as a never-ending [`Stream`]: each item is one
/// [`Consumer::recv`] (a record, or the error `poll` would return). Made by
/// [`Consumer::stream`].
///
/// It is `Unpin`, so `next()` works on it without pinning:
///
/// ```no_run
/// # async fn f(consumer: ferrokafka::consumer::Consumer) -> ferrokafka::Result<()> {
/// use futures_util::StreamExt;
/// let mut records = consumer.stream();
/// while let Some(item) = records.next().await {
///     let record = item?;
///     println!("{}-{}@{}", record.topic, record.partition, record.offset);
/// }
/// # Ok(()) }
/// ```
///
/// Dropping the stream between items loses nothing: a record is taken from the consumer only
/// when its item is returned. Each item costs one small allocation; for the highest rate use
/// [`Consumer::poll`], which hands out batches.
#[must_use = "streams do nothing unless polled"]
pub struct MessageStream<'a> {
    consumer: &'a Consumer,
    pending: Option<Recv<'a>>,
}

impl<'a> MessageStream<'a> {
    pub(super) fn new(consumer: &'a Consumer) -> MessageStream<'a> {
        MessageStream {
            consumer,
            pending: None,
        }
    }
}

impl std::fmt::Debug for MessageStream<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageStream")
            .field("consumer", self.consumer)
            .finish_non_exhaustive()
    }
}

impl Stream for MessageStream<'_> {
    type Item = Result<ConsumerRecord>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let consumer = self.consumer;
        let pending = self
            .pending
            .get_or_insert_with(|| Box::pin(consumer.recv()));
        match pending.as_mut().poll(cx) {
            Poll::Ready(item) => {
                self.pending = None;
                Poll::Ready(Some(item))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_is_unpin_and_send() {
        fn unpin_send<T: Unpin + Send>() {}
        unpin_send::<MessageStream<'static>>();
    }
}
