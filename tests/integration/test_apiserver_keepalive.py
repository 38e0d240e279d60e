"""Every client keeps its keep-alive connection, however many there are (server.py:
cheroot's own default keeps 10 and closes the rest after their response)."""
import http.client
from urllib.parse import urlsplit


def test_fifty_clients_all_keep_their_connections(api_url):
    url = urlsplit(api_url)
    conns = [http.client.HTTPConnection(url.hostname, url.port, timeout=30) for _ in range(50)]
    try:
        socks = []
        for conn in conns:
            conn.request("GET", "/api/v1/namespaces/default")
            resp = conn.getresponse()
            resp.read()
            assert resp.status == 200 and not resp.will_close
            socks.append(conn.sock)
        for conn, sock in zip(conns, socks):       # again, each on the connection it has
            conn.request("GET", "/api/v1/namespaces/default")
            resp = conn.getresponse()
            resp.read()
            assert resp.status == 200 and not resp.will_close
            assert conn.sock is sock
    finally:
        for conn in conns:
            conn.close()
