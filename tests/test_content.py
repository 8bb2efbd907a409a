"""Content keys: one key per video whatever the URL's spelling."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kanal.content import MAX_VIDEO_ID, case_id_for, content_key

VIDEO = "tiktok:video:7334567890123456789"
ID = "7318301234567890123"


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


@pytest.mark.parametrize(
    "url",
    [
        f"https://www.tiktok.com/@a/video/%37{ID[1:]}",  # escape of an unreserved character
        f"https://www.tiktok.com/@a/video/%37%33%31%38{ID[4:]}",
        f"https://www.tiktok.com/%40a/vid%65o/{ID}",  # "@" and keyword letters escaped
        f"https://www.tiktok.com/@a/VIDEO/{ID}",
        f"https://www.tiktok.com/@a/Video/{ID}/",
        f"https://www.tiktok.com//@a/video/{ID}",
        f"https://www.tiktok.com/@a//video///{ID}//",
        f"https://www.tiktok.com/@a/video/{ID};x",
        f"https://www.tiktok.com/@a;p=1/video;v/{ID};x=%2F?lang=id",
        f"https://www.tiktok.com/@a/video/00{ID}",
        f"https://www.tiktok.com/@a/video/%30%30{ID}",
        f"https://www.tiktok.com/@a/x/../video/./{ID}",
        f"https://www.tiktok.com/@a/photo/{ID}",
        f"https://www.tiktok.com/@a/PHOTO/{ID}?is_from_webapp=1",
        f"https://www.tiktok.com/embed/v2/{ID}",
        f"https://www.tiktok.com/embed/v2/{ID}?lang=id-ID&referrer=https%3A%2F%2Fexample.org",
        f"https://www.tiktok.com/embed/{ID}",
        f"https://www.tiktok.com/Embed/V2/{ID}/",
        f"https://www.tiktok.com/player/v1/{ID}?autoplay=1&loop=1",
        f"https://www.tiktok.com/player/v1/{ID}",
        f"https://m.tiktok.com/v/{ID}.html",
        f"https://m.tiktok.com/V/00{ID}.HTML;x?u_code=1",
        f"https://tiktok.com/v/{ID}%2Ehtml",
    ],
)
def test_every_form_and_spelling_of_a_video_url_gives_its_key(url: str) -> None:
    assert content_key(url) == f"tiktok:video:{ID}"


def test_ids_are_64_bit_without_leading_zeros() -> None:
    assert content_key(f"https://tiktok.com/@a/video/{MAX_VIDEO_ID}") == f"tiktok:video:{MAX_VIDEO_ID}"
    assert content_key(f"https://tiktok.com/@a/video/{'0' * 2000}1") == "tiktok:video:1"


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("https://www.tiktok.com/@a/video/000", "zero"),
        ("https://www.tiktok.com/embed/v2/0", "zero"),
        (f"https://www.tiktok.com/@a/video/{MAX_VIDEO_ID + 1}", "64-bit"),
        (f"https://www.tiktok.com/@a/video/{'9' * 2000}", "64-bit"),
        ("https://www.tiktok.com/@a/video/\u0667\u0663\u0661\u0668", "digits 0-9"),  # Arabic-Indic
        ("https://www.tiktok.com/@a/video/\uff17\uff13\uff11\uff18", "digits 0-9"),  # fullwidth
        ("https://www.tiktok.com/@a/video/7\u0663\u0661\u0668", "digits 0-9"),
        ("https://www.tiktok.com/@a/video/%D9%A7%D9%A3", "digits 0-9"),  # Arabic-Indic, encoded
        ("https://www.tiktok.com/v/\u0667\u0663.html", "digits 0-9"),
        ("https://www.tiktok.com/@a/video/73%2F18", "digits 0-9"),  # an encoded slash is no delimiter
        ("https://www.tiktok.com/@a/video/73%3B18", "digits 0-9"),  # nor is an encoded ";"
        ("https://www.tiktok.com/@a/video/7318abc", "digits 0-9"),
        ("https://www.tiktok.com/@a/video/-7318", "digits 0-9"),
        ("https://www.tiktok.com/@a/video/%2B7318", "digits 0-9"),
        ("https://www.tiktok.com/@a/video/7%zz", "digits 0-9"),
        ("https://www.tiktok.com/v/.html", "digits 0-9"),
        ("https://www.tiktok.com/embed/v2", "digits 0-9"),
        ("https://www.tiktok.com/t/", "no code"),
        ("https://tiktok.com/T;x/?a=1", "no code"),
    ],
)
def test_refuses_a_video_url_without_a_video_id(url: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        content_key(url)


def test_short_links_stay_as_given_without_query() -> None:
    assert content_key("https://vt.tiktok.com/ZSabc123/?k=1") == "https://vt.tiktok.com/ZSabc123"
    assert content_key("https://vm.tiktok.com/ZSabc123") != content_key("https://vm.tiktok.com/zsabc123")


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("https://vt.tiktok.com/ZSabc123/", "https://vt.tiktok.com/ZSabc123"),
        ("https://VM.TikTok.com/ZSabc123#x", "https://vm.tiktok.com/ZSabc123"),
        ("https://vt.tiktok.com/%5A%53abc123", "https://vt.tiktok.com/ZSabc123"),
        ("https://vt.tiktok.com//ZSabc123;x", "https://vt.tiktok.com/ZSabc123"),
        ("https://www.tiktok.com/t/ZTRabc12/", "https://tiktok.com/t/ZTRabc12"),
        ("https://tiktok.com/t/ZTRabc12?_r=1&_t=8", "https://tiktok.com/t/ZTRabc12"),
        ("https://m.tiktok.com/T/ZTRabc12", "https://tiktok.com/t/ZTRabc12"),
        ("https://www.tiktok.com/t/ztrabc12", "https://tiktok.com/t/ztrabc12"),
        ("https://www.tiktok.com/t/ZT%2fx", "https://tiktok.com/t/ZT%2Fx"),  # kept encoded, hex upper-cased
    ],
)
def test_short_codes_keep_their_case(url: str, key: str) -> None:
    assert content_key(url) == key


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("https://www.tiktok.com/@Relawan.Digital/?lang=id", "https://tiktok.com/@relawan.digital"),
        ("https://www.tiktok.com//@Relawan.Digital//live;x", "https://tiktok.com/@relawan.digital/live"),
        ("https://www.tiktok.com/tag/%50emilu2024", "https://tiktok.com/tag/pemilu2024"),
        ("https://www.tiktok.com/@a%2Fb", "https://tiktok.com/@a%2fb"),  # not /@a/b: no segment from %2F
        ("https://www.tiktok.com/@a/video", "https://tiktok.com/@a/video"),
        ("https://www.tiktok.com/@a/video/7318/extra", "https://tiktok.com/@a/video/7318/extra"),
        ("https://www.tiktok.com/t/ZT/extra", "https://tiktok.com/t/zt/extra"),
        ("https://www.tiktok.com/", "https://tiktok.com"),
    ],
)
def test_other_pages_are_normalized(url: str, key: str) -> None:
    assert content_key(url) == key


# Keys (and so case ids) of URLs that already had one key per video must not change: these are the forms in
# this file, events/*.json, bench/ and the README, with the keys the previous content_key gave them.
@pytest.mark.parametrize(
    ("url", "key"),
    [
        (f"https://www.tiktok.com/@akun.contoh/video/{ID}", f"tiktok:video:{ID}"),
        (f"https://www.tiktok.com/@akun.contoh/video/{ID}?lang=id-ID#comments", f"tiktok:video:{ID}"),
        (f"https://tiktok.com/@akun/video/{ID}/", f"tiktok:video:{ID}"),
        (f"https://m.tiktok.com/v/{ID}.html?lang=id", f"tiktok:video:{ID}"),
        ("https://vt.tiktok.com/ZSabc123", "https://vt.tiktok.com/ZSabc123"),
        ("https://vm.tiktok.com/zsabc123", "https://vm.tiktok.com/zsabc123"),
        ("https://www.tiktok.com/t/zsabc/", "https://tiktok.com/t/zsabc"),
        ("https://www.tiktok.com/@Relawan/live", "https://tiktok.com/@relawan/live"),
        ("https://www.tiktok.com", "https://tiktok.com"),
    ],
)
def test_keys_of_urls_that_were_right_are_unchanged(url: str, key: str) -> None:
    assert content_key(url) == key


def test_case_ids_of_keys_are_unchanged() -> None:
    assert case_id_for(f"tiktok:video:{ID}") == "c_rgxnhqe46t3bmr624xe7mmoncb"
    assert case_id_for("https://vt.tiktok.com/ZSabc123") == "c_x5ayjm534ebi46fnekfaxhgjeu"
    assert case_id_for("https://tiktok.com/@relawan.digital") == "c_jjdm675jyps7kisgmd3uejr6t6"


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("http://www.tiktok.com/@a/video/1", "https"),
        ("https://www.youtube.com/watch?v=1", "TikTok host"),
        ("https://tiktok.com.evil.example/@a/video/1", "TikTok host"),
        ("https://user:pw@www.tiktok.com/@a/video/1", "credentials"),
        ("https://vt.tiktok.com/", "no code"),
        ("https://vt.tiktok.com/;x//", "no code"),
        ("https://www.tiktok.com:8443/@a/video/1", "port"),
    ],
)
def test_refuses_what_is_not_tiktok(url: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        content_key(url)


video_ids = st.integers(min_value=1, max_value=MAX_VIDEO_ID).map(str)
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
