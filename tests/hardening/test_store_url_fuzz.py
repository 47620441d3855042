"""Store URLs fuzzed through ``open_store``: a store, or a typed error saying what to write; never a raw exception,
and never the password in a message, a repr or the store's ``url``. Nothing is opened (no connection is made)."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator import ConfigurationError
from orchestrator.store import open_store

from . import _hostile as hostile
from ._tally import broken, tried

PASSWORD = "pw-Zq7-hunter2"  # distinctive: found in any text it leaks into

_part = st.one_of(st.text(hostile.ANY_CHAR, max_size=12), st.sampled_from(hostile.NASTY))
_scheme = st.one_of(
    st.sampled_from(
        ["memory", "sqlite", "postgresql", "postgres", "POSTGRESQL", "SQLite", "mysql", "", "http"]
    ),
    _part,
)
_sep = st.sampled_from(["://", ":/", ":", "//", ":///", "://///", ""])
_password = st.sampled_from([PASSWORD, quote(PASSWORD), f"{PASSWORD}@x", f"{PASSWORD}:", ""])
_userinfo = st.one_of(
    st.just(""),
    st.builds(lambda user, pw: f"{user}:{pw}@", _part, _password),
    st.builds(lambda user: f"{user}@", _part),
)
_host = st.one_of(
    st.sampled_from(["127.0.0.1", "localhost:5432", "[::1]:5432", "", "h:port", "h:99999"]), _part
)
_path = st.one_of(
    st.sampled_from(["", "/", "/test", "/.orchestrator/jobs.sqlite3", "//abs/x.db", "/a/"]), _part
)
_query = st.one_of(
    st.just(""),
    st.builds(lambda v: f"?schema={v}", _part),
    st.sampled_from(
        [f"?password={PASSWORD}", f"?sslpassword={PASSWORD}&schema=s1", "?schema=ok_1", "?", "?=&&"]
    ),
    st.builds(lambda k, v: f"?{k}={v}", _part, _part),
)
# well-formed in shape (a store is built), the parts hostile
_shaped = st.builds(
    lambda scheme, userinfo, host, path, query: f"{scheme}://{userinfo}{host}{path}{query}",
    st.sampled_from(["postgresql", "postgres"]),
    _userinfo,
    _host,
    _path,
    _query,
) | st.builds(lambda path: f"sqlite:///{path}.db", _part)
urls = st.one_of(
    _shaped,
    st.builds(lambda *parts: "".join(parts), _scheme, _sep, _userinfo, _host, _path, _query),
    st.text(hostile.ANY_CHAR, max_size=60),
    st.sampled_from(hostile.NASTY),
)


def _check(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    surface = "store URLs: open_store"
    try:
        store = open_store(url)
    except ConfigurationError as exc:
        message = str(exc)
        out = capsys.readouterr()
        leaks = [
            where for where, text in (("message", message), ("output", out.out + out.err)) if PASSWORD in text
        ]
        if leaks or not message:
            broken(
                surface, f"{url!r}: the password in the {leaks}" if leaks else f"{url!r}: an empty message"
            )
            raise AssertionError(f"{url!r} refused with {message!r}, the password in {leaks}") from exc
        tried(surface, refused=True)
        return
    except Exception as exc:
        broken(surface, f"{url!r}: {type(exc).__name__}: {exc!r}"[:300])
        raise
    shown = f"{store!r} {store} {getattr(store, 'url', '')}"
    out = capsys.readouterr()
    if PASSWORD in shown or PASSWORD in out.out + out.err:
        broken(surface, f"{url!r}: the password in the store's repr or url")
        raise AssertionError(f"the password of {url!r} is shown: {shown!r}")
    tried(surface, refused=False)


@given(url=urls)
def test_store_urls_give_a_store_or_a_typed_error_without_the_password(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Any store URL builds a store or raises ConfigurationError; the password is in no message, repr or url."""
    _check(url, capsys)


@pytest.mark.parametrize(
    "url",
    [
        f"sqlite://user:{PASSWORD}@host/jobs.db",
        f"sqlite://user:{PASSWORD}@/jobs.db?x=1",
        f"sqlite:///jobs.db?password={PASSWORD}",
        f"sqlite:///:{PASSWORD}@/",
        f"postgresql://u:{PASSWORD}@127.0.0.1/db?schema=1bad",
        f"memory://u:{PASSWORD}@",
        f"mysql://u:{PASSWORD}@host/db",
        f"memory:/h?password={PASSWORD}",
    ],
)
def test_refused_store_urls_never_quote_the_password(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A refused store URL's message quotes it without its password (SQLite URLs were quoted whole)."""
    with pytest.raises(ConfigurationError):
        open_store(url)
    _check(url, capsys)


@pytest.mark.parametrize(
    "url", [f"postgresql://////:{PASSWORD}@127.0.0.1", f"postgresql://127.0.0.1/db?sslpassword={PASSWORD}"]
)
def test_a_store_built_from_a_mistyped_url_does_not_show_its_password(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A PostgreSQL URL with its password in the path (slashes mistyped) or a query is built, its ``url`` masked."""
    assert PASSWORD not in open_store(url).url
    _check(url, capsys)


@pytest.mark.parametrize("url", ["memory://\ud800", "sqlite:///jobs\udfff.db", "postgresql://u@h/\ud83d"])
def test_a_store_url_that_cannot_be_encoded_is_refused_naming_the_character(url: str) -> None:
    """A lone surrogate in a store URL is refused with ConfigurationError naming it (was UnicodeEncodeError)."""
    with pytest.raises(ConfigurationError, match=r"cannot be encoded .* at position"):
        open_store(url)
