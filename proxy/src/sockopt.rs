//! The system calls the proxy needs that tokio does not offer: the destination a connection had
//! before iptables redirected it, a firewall mark, an abortive close, and splice(2) through a
//! pipe, which moves a connection's bytes to another without copying them to user space.

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn set(fd: RawFd, level: libc::c_int, name: libc::c_int, value: &impl Sized) -> io::Result<()> {
    let len = std::mem::size_of_val(value) as libc::socklen_t;
    // SAFETY: `value` is a live, initialised option value of `len` bytes for this call.
    check(unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (value as *const _) as *const libc::c_void,
            len,
        )
    })
}

/// Where the client meant to connect before `REDIRECT` (`SO_ORIGINAL_DST`); an error (ENOENT)
/// for a connection that was not redirected.
pub fn original_destination(socket: &impl AsRawFd) -> io::Result<SocketAddrV4> {
    // SAFETY: a zeroed sockaddr_in is a valid value of it.
    let mut addr: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: `addr` has room for `len` bytes and outlives the call.
    check(unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_IP,
            libc::SO_ORIGINAL_DST,
            (&mut addr as *mut libc::sockaddr_in) as *mut libc::c_void,
            &mut len,
        )
    })?;
    Ok(SocketAddrV4::new(
        Ipv4Addr::from(u32::from_be(addr.sin_addr.s_addr)),
        u16::from_be(addr.sin_port),
    ))
}

/// Marks the socket's packets (`SO_MARK`, needs CAP_NET_ADMIN), so the proxy's own connections
/// pass the redirect rules untouched.
pub fn set_mark(socket: &impl AsRawFd, mark: u32) -> io::Result<()> {
    set(socket.as_raw_fd(), libc::SOL_SOCKET, libc::SO_MARK, &mark)
}

/// Closing the socket after this sends a reset instead of a FIN: "connection reset by peer".
pub fn set_abortive_close(socket: &impl AsRawFd) -> io::Result<()> {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    set(
        socket.as_raw_fd(),
        libc::SOL_SOCKET,
        libc::SO_LINGER,
        &linger,
    )
}

/// A kernel pipe that bytes pass through on their way between two sockets.
pub struct SplicePipe {
    read: OwnedFd,
    write: OwnedFd,
}

impl SplicePipe {
    /// A non-blocking pipe of (up to) `size` bytes.
    pub fn new(size: usize) -> io::Result<Self> {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: `fds` has room for the two descriptors pipe2 writes.
        check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) })?;
        // SAFETY: pipe2 succeeded, so both descriptors are open and ours alone.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // A larger pipe moves more per call; the default (64 KiB) still works if refused.
        // SAFETY: F_SETPIPE_SZ on a pipe we own.
        unsafe { libc::fcntl(write.as_raw_fd(), libc::F_SETPIPE_SZ, size as libc::c_int) };
        Ok(SplicePipe { read, write })
    }

    /// Moves up to `len` bytes from socket `from` into the pipe; `Ok(0)` at the end of the
    /// stream, `WouldBlock` when nothing is there yet.
    pub fn fill(&self, from: RawFd, len: usize) -> io::Result<usize> {
        splice(from, self.write.as_raw_fd(), len)
    }

    /// Moves up to `len` bytes from the pipe into socket `to`.
    pub fn drain(&self, to: RawFd, len: usize) -> io::Result<usize> {
        splice(self.read.as_raw_fd(), to, len)
    }
}

fn splice(from: RawFd, to: RawFd, len: usize) -> io::Result<usize> {
    // SAFETY: two open descriptors, no offsets (both are streams).
    let moved = unsafe {
        libc::splice(
            from,
            std::ptr::null_mut(),
            to,
            std::ptr::null_mut(),
            len,
            libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK,
        )
    };
    if moved < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(moved as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_connection_that_was_not_redirected_went_where_it_went() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let _client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (accepted, _) = listener.accept().await.unwrap();
        // Without conntrack there is no answer; with it, the destination is the real one.
        if let Ok(original) = original_destination(&accepted) {
            assert_eq!(std::net::SocketAddr::V4(original), addr);
        }
        set_abortive_close(&accepted).unwrap();
    }
}
