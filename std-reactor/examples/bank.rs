//! The actor pattern: a bank where every account is a task.
//!
//! An *actor* is a task that owns its state outright and changes it only in
//! answer to messages from its inbox (an `mpsc` channel), one message at a
//! time. Nobody else can touch the state, so there is nothing to lock: two
//! withdrawals can never interleave, because the actor handles them one
//! after the other. A caller that wants an answer sends a `oneshot` sender
//! along with its message and awaits the reply.
//!
//! Callers hold a cheap [`Account`] handle (a clone of the inbox's sender
//! and the account's name), never the actor itself. The actor runs until
//! the last handle is dropped: then its inbox closes and its loop ends.
//!
//! Use an actor when state is complex, is shared by many tasks, or would
//! otherwise be held under a lock across an `.await`. For a plain counter an
//! atomic is simpler.
//!
//! ```text
//! cargo run --release --example bank
//! ```

#![forbid(unsafe_code)]

use std::fmt;

use pollen::channel::{mpsc, oneshot};

/// How many messages an account's inbox holds before senders wait.
const INBOX: usize = 32;

/// The one way a bank operation fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct InsufficientFunds;

impl fmt::Display for InsufficientFunds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("insufficient funds")
    }
}

impl std::error::Error for InsufficientFunds {}

/// What an account's inbox carries. Every message that needs an answer
/// brings the sending half of a oneshot channel for it.
enum Message {
    Deposit {
        amount: u64,
        reply: oneshot::Sender<'static, u64>,
    },
    Withdraw {
        amount: u64,
        reply: oneshot::Sender<'static, Result<u64, InsufficientFunds>>,
    },
    Balance {
        reply: oneshot::Sender<'static, u64>,
    },
    Transfer {
        to: Account,
        amount: u64,
        reply: oneshot::Sender<'static, Result<(), InsufficientFunds>>,
    },
}

/// A handle to one account's actor. Cloning it is cheap (a reference count
/// on the inbox), and every clone talks to the same account.
#[derive(Clone)]
struct Account {
    name: String,
    inbox: mpsc::Sender<'static, Message>,
}

impl Account {
    /// Opens an account with `balance` and spawns its actor on the current
    /// runtime.
    fn open(name: &str, balance: u64) -> Account {
        let (inbox, messages) = mpsc::channel(INBOX);
        pollen::spawn(run_account(balance, messages));
        Account {
            name: name.to_owned(),
            inbox,
        }
    }

    /// The account's name.
    fn name(&self) -> &str {
        &self.name
    }

    /// Adds `amount`; returns the new balance.
    async fn deposit(&self, amount: u64) -> u64 {
        self.ask(|reply| Message::Deposit { amount, reply }).await
    }

    /// Takes `amount` out if the balance covers it; returns the new balance.
    async fn withdraw(&self, amount: u64) -> Result<u64, InsufficientFunds> {
        self.ask(|reply| Message::Withdraw { amount, reply }).await
    }

    /// The current balance.
    async fn balance(&self) -> u64 {
        self.ask(|reply| Message::Balance { reply }).await
    }

    /// Moves `amount` from this account to `to`. If this account cannot
    /// cover it, nothing changes anywhere. Once this returns `Ok`, `to`
    /// has the money.
    async fn transfer(&self, to: &Account, amount: u64) -> Result<(), InsufficientFunds> {
        let to = to.clone();
        self.ask(|reply| Message::Transfer { to, amount, reply })
            .await
    }

    /// Request and reply: sends the message built around a fresh oneshot
    /// sender, then waits for the actor's answer on the receiver.
    async fn ask<T: 'static>(
        &self,
        message: impl FnOnce(oneshot::Sender<'static, T>) -> Message,
    ) -> T {
        let (reply, answer) = oneshot::channel();
        // The actor lives as long as any handle, and we are one: a send
        // or a reply can only fail if the actor panicked.
        if self.inbox.send(message(reply)).await.is_err() {
            panic!("the actor of account {} has stopped", self.name);
        }
        match answer.await {
            Ok(answer) => answer,
            Err(_) => panic!("the actor of account {} dropped a reply", self.name),
        }
    }
}

/// The actor: owns `balance` and handles one message at a time until every
/// handle is gone.
async fn run_account(mut balance: u64, mut messages: mpsc::Receiver<'static, Message>) {
    while let Some(message) = messages.recv().await {
        // A reply can only fail to arrive if the caller stopped waiting
        // (its future was dropped); the operation stands either way.
        match message {
            Message::Deposit { amount, reply } => {
                balance += amount;
                let _ = reply.send(balance);
            }
            Message::Withdraw { amount, reply } => {
                let result = withdraw(&mut balance, amount);
                let _ = reply.send(result);
            }
            Message::Balance { reply } => {
                let _ = reply.send(balance);
            }
            Message::Transfer { to, amount, reply } => {
                // The check and the debit happen here, inside one message,
                // so no other message can slip in between: the transfer
                // either takes the money or changes nothing.
                if let Err(e) = withdraw(&mut balance, amount) {
                    let _ = reply.send(Err(e));
                    continue;
                }
                // The credit is a message to another actor. This actor must
                // not wait for it: if `to` were at that moment waiting to
                // transfer to us, each would wait for the other forever.
                // A small task delivers it, and answers the caller once `to`
                // has the money; the money cannot get lost on the way even
                // if the caller stops waiting.
                pollen::spawn(async move {
                    to.deposit(amount).await;
                    let _ = reply.send(Ok(()));
                });
            }
        }
    }
}

fn withdraw(balance: &mut u64, amount: u64) -> Result<u64, InsufficientFunds> {
    *balance = balance.checked_sub(amount).ok_or(InsufficientFunds)?;
    Ok(*balance)
}

/// Runs `clients` tasks at once, each making `transfers` transfers between
/// the `accounts` in a fixed rotation; returns how many succeeded.
async fn busy_clients(accounts: &[Account], clients: usize, transfers: usize) -> usize {
    let tasks: Vec<_> = (0..clients)
        .map(|client| {
            let accounts = accounts.to_vec();
            pollen::spawn(async move {
                let mut succeeded = 0;
                for i in 0..transfers {
                    let from = &accounts[(client + i) % accounts.len()];
                    let to = &accounts[(client + i + 1) % accounts.len()];
                    let amount = 1 + ((client * 7 + i * 13) % 100) as u64;
                    if from.transfer(to, amount).await.is_ok() {
                        succeeded += 1;
                    }
                }
                succeeded
            })
        })
        .collect();
    let mut succeeded = 0;
    for task in tasks {
        succeeded += task.await.expect("a client panicked");
    }
    succeeded
}

async fn print_balances(accounts: &[Account]) -> u64 {
    let mut total = 0;
    for account in accounts {
        let balance = account.balance().await;
        println!("  {:<6} {balance:>5}", account.name());
        total += balance;
    }
    total
}

#[pollen::main]
async fn main() {
    let alice = Account::open("Alice", 1000);
    let bob = Account::open("Bob", 500);
    println!("Opened Alice with 1000 and Bob with 500.");

    match alice.transfer(&bob, 200).await {
        Ok(()) => println!("Transfer 200 from Alice to Bob: done"),
        Err(e) => println!("Transfer 200 from Alice to Bob: {e}"),
    }
    print_balances(&[alice.clone(), bob.clone()]).await;

    match bob.transfer(&alice, 5000).await {
        Ok(()) => println!("Transfer 5000 from Bob to Alice: done"),
        Err(e) => println!("Transfer 5000 from Bob to Alice: {e}, nothing changed"),
    }
    match bob.withdraw(100).await {
        Ok(left) => println!("Bob withdraws 100: done, {left} left"),
        Err(e) => println!("Bob withdraws 100: {e}"),
    }
    let accounts = [alice, bob, Account::open("Carol", 300)];
    println!("Opened Carol with 300.");
    let start = print_balances(&accounts).await;

    let (clients, transfers) = (100, 100);
    println!("{clients} clients make {transfers} transfers each, all at once...");
    let succeeded = busy_clients(&accounts, clients, transfers).await;
    println!(
        "{succeeded} of {} transfers went through, the rest lacked funds.",
        clients * transfers
    );
    let end = print_balances(&accounts).await;
    println!("Total before: {start}, after: {end}: no money made or lost.");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[pollen::test]
    async fn the_seed_transfer() {
        let alice = Account::open("Alice", 1000);
        let bob = Account::open("Bob", 500);
        alice.transfer(&bob, 200).await.unwrap();
        assert_eq!(alice.balance().await, 800);
        assert_eq!(bob.balance().await, 700);
    }

    #[pollen::test]
    async fn deposit_and_withdraw() {
        let account = Account::open("Dora", 10);
        assert_eq!(account.deposit(5).await, 15);
        assert_eq!(account.withdraw(15).await, Ok(0));
        assert_eq!(account.withdraw(1).await, Err(InsufficientFunds));
        assert_eq!(InsufficientFunds.to_string(), "insufficient funds");
        assert_eq!(account.balance().await, 0);
    }

    #[pollen::test]
    async fn a_failed_transfer_changes_nothing() {
        let alice = Account::open("Alice", 1000);
        let bob = Account::open("Bob", 500);
        assert_eq!(bob.transfer(&alice, 501).await, Err(InsufficientFunds));
        assert_eq!(alice.balance().await, 1000);
        assert_eq!(bob.balance().await, 500);
        // Exactly the balance is fine.
        bob.transfer(&alice, 500).await.unwrap();
        assert_eq!(alice.balance().await, 1500);
        assert_eq!(bob.balance().await, 0);
    }

    #[pollen::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_deposits_all_land() {
        let account = Account::open("Eve", 0);
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let account = account.clone();
                pollen::spawn(async move {
                    for _ in 0..20 {
                        account.deposit(3).await;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(account.balance().await, 50 * 20 * 3);
    }

    /// Many clients transfer between three accounts at once, in every
    /// direction (so accounts transfer to each other at the same moment):
    /// no deadlock, and no money is made or lost.
    #[pollen::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_transfers_conserve_the_total() {
        let accounts = [
            Account::open("Alice", 1000),
            Account::open("Bob", 500),
            Account::open("Carol", 300),
        ];
        let succeeded = busy_clients(&accounts, 100, 50).await;
        assert!(succeeded > 0, "some transfers go through");
        let mut total = 0;
        for account in &accounts {
            total += account.balance().await;
        }
        assert_eq!(total, 1800);
    }
}
