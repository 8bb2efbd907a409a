"""Content keys: one key per video whatever the URL's spelling."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kanal.content import case_id_for, content_key

VIDEO = "tiktok:video:7334567890123456789"


@pytest.mark.parametrize(
    "url",
    [
        "https://www.tiktok.com/@relawan.digital/video/7334567890123456789",
        "https://WWW.TikTok.com/@relawan.digital/video/7334567890123456789/",
        "https://m.tiktok.com/@relawan.digital/video/7334567890123456789?is_from_webapp=1&lang=id",
        "https://tiktok.com/@other.name/video/7334567890123456789#comments",
        "https://m.tiktok.com/v/7334567890123456789.html",
        "https://www.tiktok.com/v/7334567890123456789.html?u_code=abc",
    ],
)
def test_every_spelling_of_a_video_gives_one_key(url: str) -> None:
    assert content_key(url) == VIDEO


def test_short_links_stay_as_given_without_query() -> None:
    assert content_key("https://vt.tiktok.com/ZSabc123/?k=1") == "https://vt.tiktok.com/ZSabc123"
    assert content_key("https://vm.tiktok.com/ZSabc123") != content_key("https://vm.tiktok.com/zsabc123")


def test_other_pages_are_normalized() -> None:
    assert content_key("https://www.tiktok.com/@Relawan.Digital/?lang=id") == "https://tiktok.com/@relawan.digital"


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("http://www.tiktok.com/@a/video/1", "https"),
        ("https://www.youtube.com/watch?v=1", "TikTok host"),
        ("https://tiktok.com.evil.example/@a/video/1", "TikTok host"),
        ("https://user:pw@www.tiktok.com/@a/video/1", "credentials"),
        ("https://vt.tiktok.com/", "no code"),
    ],
)
def test_refuses_what_is_not_tiktok(url: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        content_key(url)


video_ids = st.integers(min_value=1, max_value=10**19).map(str)
spellings = st.tuples(
    st.sampled_from(["tiktok.com", "www.tiktok.com", "m.tiktok.com", "WWW.TIKTOK.COM"]),
    st.sampled_from(["", "/"]),
    st.sampled_from(["", "?lang=id", "?is_from_webapp=1&sender_device=pc"]),
    st.sampled_from(["", "#top"]),
    st.from_regex(r"[a-z0-9._]{1,24}", fullmatch=True),
    st.booleans(),
)


@given(video_ids, spellings)
def test_property_any_spelling_of_a_video_gives_its_key(
    video: str, spelling: tuple[str, str, str, str, str, bool]
) -> None:
    host, slash, query, fragment, user, long_form = spelling
    path = f"/@{user}/video/{video}" if long_form else f"/v/{video}.html"
    assert content_key(f"https://{host}{path}{slash}{query}{fragment}") == f"tiktok:video:{video}"


@given(video_ids, video_ids)
def test_property_different_videos_never_share_a_key_or_case(a: str, b: str) -> None:
    key_a = content_key(f"https://www.tiktok.com/@x/video/{a}")
    key_b = content_key(f"https://www.tiktok.com/@x/video/{b}")
    assert (key_a == key_b) == (a == b)
    assert (case_id_for(key_a) == case_id_for(key_b)) == (a == b)
