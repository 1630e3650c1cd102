//! `mode http` (HTTP/1.0 and 1.1).

use crate::runtime::{Bind, Frontend, Runtime};
use std::io;
use std::net::SocketAddr;
use tokio::net::TcpStream;

pub(crate) async fn serve(
    _rt: &Runtime,
    _fe: &Frontend,
    _bind: &Bind,
    _client: TcpStream,
    _peer: SocketAddr,
) -> io::Result<()> {
    Ok(())
}
