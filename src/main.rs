//! The server binary. Everything lives in the library so tests and tools can reuse it.

#[tokio::main]
async fn main() {
    if let Err(message) = sesame::server::serve().await {
        eprintln!("sesame: {message}");
        std::process::exit(1);
    }
}
