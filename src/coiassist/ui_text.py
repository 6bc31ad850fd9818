"""Every string the web UI shows, per UI language (da, nb, nn).

The answer itself follows the question's language (or the answer-language setting); these labels
follow the language selector. The framing phrases of answers live in `phrases.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

UI_LANGUAGES = ("da", "nb", "nn")


@dataclass(frozen=True)
class UiText:
    """One UI language's labels, messages and example questions."""

    language_names: dict[str, str]  # da/nb/nn → the name in this UI language
    title: str
    intro: str
    ui_language: str
    answer_language: str
    answer_auto: str
    chat_tab: str
    admin_tab: str
    chatbot: str
    placeholder: str
    question: str
    send: str
    new_conversation: str
    examples: str
    example_questions: tuple[str, str, str]  # Danish and Norwegian, so both are one click away
    sources: str
    open_source: str
    article_placeholder: str
    cited_passage: str
    thinking: str
    backend_extractive: str
    backend_llm: str  # {name}
    unanswerable_hint: str
    empty_index: str
    backend_down: str
    question_empty: str
    question_too_long: str  # {limit}
    index_busy: str
    index_broken: str
    generic_error: str
    comment: str
    comment_placeholder: str
    feedback_up: str
    feedback_down: str
    feedback_none: str
    admin_off: str
    admin_password: str
    wrong_password: str
    stats: str
    stats_articles: str
    stats_chunks: str
    stats_vectors: str
    stats_vectors_unusable: str  # {problem}: the error, in English like every error detail
    stats_languages: str
    stats_model: str
    stats_last_indexed: str
    stats_outdated: str
    refresh: str
    upload: str
    upload_button: str
    accepted: str
    rejected: str
    no_files: str
    reasons: dict[str, str]  # admin.py refusal codes → explanation
    reindex_button: str
    indexing: str
    reindexed: str  # {added} {changed} {deleted} {chunks} {seconds}
    skipped_files: str
    delete_label: str
    delete_button: str
    deleted: str  # {name}
    nothing_selected: str


_DA_NAMES = {"da": "Dansk", "nb": "Norsk (bokmål)", "nn": "Norsk (nynorsk)"}

TEXTS: dict[str, UiText] = {
    "da": UiText(
        language_names=_DA_NAMES,
        title="Spørg COI's artikler",
        intro="Stil et spørgsmål på dansk eller norsk. Svaret bygger kun på artiklerne og viser sine kilder.",
        ui_language="Sprog i brugerfladen",
        answer_language="Svarsprog",
        answer_auto="Som spørgsmålet",
        chat_tab="Chat",
        admin_tab="Administration",
        chatbot="Samtale",
        placeholder="Skriv dit spørgsmål her …",
        question="Spørgsmål",
        send="Send",
        new_conversation="Ny samtale",
        examples="Eksempler",
        example_questions=(
            "Hvor mange velfærdsinnovatører var samlet i Øksnehallen?",
            "Hvad handler artiklen om Velfærdens Innovationsdag om?",
            "Hvem vant den danske innovasjonsprisen i 2019?",
        ),
        sources="Kilder",
        open_source="Vis hele artiklen for kilde",
        article_placeholder="Vælg en kilde for at se hele artiklen med det citerede afsnit fremhævet.",
        cited_passage="Citeret afsnit",
        thinking="Finder svar i artiklerne …",
        backend_extractive="Svaret kommer fra den offline backend, der citerer sætninger fra artiklerne.",
        backend_llm="Svaret er skrevet af sprogmodellen ({name}) og tjekket mod kilderne.",
        unanswerable_hint="Prøv at stille spørgsmålet anderledes eller mere konkret.",
        empty_index=(
            "Der er ikke indekseret nogen artikler endnu. Kør `coiassist index` i en terminal, "
            "eller upload artikler under fanen Administration."
        ),
        backend_down="Svar-backenden kan ikke nås lige nu. Prøv igen om lidt.",
        question_empty="Skriv et spørgsmål om artiklerne.",
        question_too_long="Spørgsmålet er for langt; højst {limit} tegn.",
        index_busy="Indekset er ved at blive opdateret. Prøv igen om lidt.",
        index_broken="Indekset kan ikke læses. Kør `coiassist index --rebuild`.",
        generic_error="Noget gik galt. Prøv igen; fejlen er skrevet i serverens log.",
        comment="Kommentar til svaret (valgfri)",
        comment_placeholder="Skriv en kommentar, og giv så svaret tommel op eller ned.",
        feedback_up="Tak! Din positive vurdering er gemt.",
        feedback_down="Tak! Din negative vurdering er gemt.",
        feedback_none="Der er ikke noget svar at vurdere her.",
        admin_off=(
            "Administration er slået fra: serveren lytter på en offentlig adresse uden "
            "administratoradgangskode (indstillingen `admin_password`)."
        ),
        admin_password="Administratoradgangskode",
        wrong_password="Forkert eller manglende administratoradgangskode.",
        stats="Indeks",
        stats_articles="Artikler",
        stats_chunks="Tekststykker",
        stats_vectors="Vektorer",
        stats_vectors_unusable="Kan ikke bruges, så søgningen bruger kun ordsøgning (BM25): {problem}",
        stats_languages="Sprog",
        stats_model="Model",
        stats_last_indexed="Senest indekseret",
        stats_outdated="Indekset er bygget af en ældre version og finder færre ord: genindeksér det",
        refresh="Opdatér",
        upload="Upload artikler (txt, md, html, pdf, jsonl)",
        upload_button="Upload og indeksér",
        accepted="Modtaget",
        rejected="Afvist",
        no_files="Vælg først en eller flere filer.",
        reasons={
            "bad_name": "ugyldigt filnavn",
            "bad_type": "filtypen understøttes ikke",
            "too_large": "filen er for stor",
            "too_many": "for mange filer på én gang",
            "empty": "filen er tom",
            "unreadable": "filen kan ikke læses",
            "duplicate_id": "artikel-id'et findes allerede",
            "not_a_folder": "korpusset er én fil, så der kan ikke uploades",
            "bulk_file": "artiklen ligger i en samlet JSONL-fil; ret filen i stedet",
            "outside": "filen ligger uden for korpusset",
            "missing": "filen findes ikke længere",
        },
        reindex_button="Indeksér igen",
        indexing="Indekserer",
        reindexed=(
            "Indekseret: {added} tilføjet, {changed} ændret, {deleted} slettet; "
            "{chunks} tekststykker i alt ({seconds:.1f} s)."
        ),
        skipped_files="Sprunget over",
        delete_label="Artikel der skal slettes",
        delete_button="Slet og indeksér",
        deleted="Slettet: {name}",
        nothing_selected="Vælg først en artikel.",
    ),
    "nb": UiText(
        language_names={"da": "Dansk", "nb": "Norsk (bokmål)", "nn": "Norsk (nynorsk)"},
        title="Spør COIs artikler",
        intro="Still et spørsmål på dansk eller norsk. Svaret bygger bare på artiklene og viser kildene.",
        ui_language="Språk i brukerflaten",
        answer_language="Svarspråk",
        answer_auto="Som spørsmålet",
        chat_tab="Chat",
        admin_tab="Administrasjon",
        chatbot="Samtale",
        placeholder="Skriv spørsmålet ditt her …",
        question="Spørsmål",
        send="Send",
        new_conversation="Ny samtale",
        examples="Eksempler",
        example_questions=(
            "Hvilken minister holdt åpningstalen på Velferdens innovasjonsdag?",
            "Hvem vant den danske innovasjonsprisen i 2019?",
            "Hvor mange velfærdsinnovatører var samlet i Øksnehallen?",
        ),
        sources="Kilder",
        open_source="Vis hele artikkelen for kilde",
        article_placeholder="Velg en kilde for å se hele artikkelen med det siterte avsnittet uthevet.",
        cited_passage="Sitert avsnitt",
        thinking="Finner svar i artiklene …",
        backend_extractive="Svaret kommer fra den frakoblede backenden, som siterer setninger fra artiklene.",
        backend_llm="Svaret er skrevet av språkmodellen ({name}) og kontrollert mot kildene.",
        unanswerable_hint="Prøv å stille spørsmålet annerledes eller mer konkret.",
        empty_index=(
            "Ingen artikler er indeksert ennå. Kjør `coiassist index` i en terminal, "
            "eller last opp artikler under fanen Administrasjon."
        ),
        backend_down="Svar-backenden kan ikke nås akkurat nå. Prøv igjen om litt.",
        question_empty="Skriv et spørsmål om artiklene.",
        question_too_long="Spørsmålet er for langt; høyst {limit} tegn.",
        index_busy="Indeksen oppdateres akkurat nå. Prøv igjen om litt.",
        index_broken="Indeksen kan ikke leses. Kjør `coiassist index --rebuild`.",
        generic_error="Noe gikk galt. Prøv igjen; feilen er skrevet i serverens logg.",
        comment="Kommentar til svaret (valgfri)",
        comment_placeholder="Skriv en kommentar, og gi så svaret tommel opp eller ned.",
        feedback_up="Takk! Den positive vurderingen din er lagret.",
        feedback_down="Takk! Den negative vurderingen din er lagret.",
        feedback_none="Det er ikke noe svar å vurdere her.",
        admin_off=(
            "Administrasjon er slått av: serveren lytter på en offentlig adresse uten "
            "administratorpassord (innstillingen `admin_password`)."
        ),
        admin_password="Administratorpassord",
        wrong_password="Feil eller manglende administratorpassord.",
        stats="Indeks",
        stats_articles="Artikler",
        stats_chunks="Tekstbiter",
        stats_vectors="Vektorer",
        stats_vectors_unusable="Kan ikke brukes, så søket bruker bare ordsøk (BM25): {problem}",
        stats_languages="Språk",
        stats_model="Modell",
        stats_last_indexed="Sist indeksert",
        stats_outdated="Indeksen er bygget av en eldre versjon og finner færre ord: indekser på nytt",
        refresh="Oppdater",
        upload="Last opp artikler (txt, md, html, pdf, jsonl)",
        upload_button="Last opp og indekser",
        accepted="Mottatt",
        rejected="Avvist",
        no_files="Velg først en eller flere filer.",
        reasons={
            "bad_name": "ugyldig filnavn",
            "bad_type": "filtypen støttes ikke",
            "too_large": "filen er for stor",
            "too_many": "for mange filer på én gang",
            "empty": "filen er tom",
            "unreadable": "filen kan ikke leses",
            "duplicate_id": "artikkel-ID-en finnes allerede",
            "not_a_folder": "korpuset er én fil, så det kan ikke lastes opp",
            "bulk_file": "artikkelen ligger i en samlet JSONL-fil; rett filen i stedet",
            "outside": "filen ligger utenfor korpuset",
            "missing": "filen finnes ikke lenger",
        },
        reindex_button="Indekser på nytt",
        indexing="Indekserer",
        reindexed=(
            "Indeksert: {added} lagt til, {changed} endret, {deleted} slettet; "
            "{chunks} tekstbiter i alt ({seconds:.1f} s)."
        ),
        skipped_files="Hoppet over",
        delete_label="Artikkel som skal slettes",
        delete_button="Slett og indekser",
        deleted="Slettet: {name}",
        nothing_selected="Velg først en artikkel.",
    ),
    "nn": UiText(
        language_names={"da": "Dansk", "nb": "Norsk (bokmål)", "nn": "Norsk (nynorsk)"},
        title="Spør artiklane til COI",
        intro="Still eit spørsmål på dansk eller norsk. Svaret byggjer berre på artiklane og viser kjeldene.",
        ui_language="Språk i brukarflata",
        answer_language="Svarspråk",
        answer_auto="Som spørsmålet",
        chat_tab="Chat",
        admin_tab="Administrasjon",
        chatbot="Samtale",
        placeholder="Skriv spørsmålet ditt her …",
        question="Spørsmål",
        send="Send",
        new_conversation="Ny samtale",
        examples="Døme",
        example_questions=(
            "Kven heldt opningstalen på Velferdens innovasjonsdag?",
            "Kven vann den danske innovasjonsprisen i 2019?",
            "Hvor mange velfærdsinnovatører var samlet i Øksnehallen?",
        ),
        sources="Kjelder",
        open_source="Vis heile artikkelen for kjelde",
        article_placeholder="Vel ei kjelde for å sjå heile artikkelen med det siterte avsnittet utheva.",
        cited_passage="Sitert avsnitt",
        thinking="Finn svar i artiklane …",
        backend_extractive="Svaret kjem frå den fråkopla backenden, som siterer setningar frå artiklane.",
        backend_llm="Svaret er skrive av språkmodellen ({name}) og kontrollert mot kjeldene.",
        unanswerable_hint="Prøv å stille spørsmålet annleis eller meir konkret.",
        empty_index=(
            "Ingen artiklar er indekserte enno. Køyr `coiassist index` i ein terminal, "
            "eller last opp artiklar under fana Administrasjon."
        ),
        backend_down="Svar-backenden kan ikkje nåast akkurat no. Prøv igjen om litt.",
        question_empty="Skriv eit spørsmål om artiklane.",
        question_too_long="Spørsmålet er for langt; høgst {limit} teikn.",
        index_busy="Indeksen blir oppdatert akkurat no. Prøv igjen om litt.",
        index_broken="Indeksen kan ikkje lesast. Køyr `coiassist index --rebuild`.",
        generic_error="Noko gjekk gale. Prøv igjen; feilen er skriven i loggen til serveren.",
        comment="Kommentar til svaret (valfri)",
        comment_placeholder="Skriv ein kommentar, og gi så svaret tommel opp eller ned.",
        feedback_up="Takk! Den positive vurderinga di er lagra.",
        feedback_down="Takk! Den negative vurderinga di er lagra.",
        feedback_none="Det er ikkje noko svar å vurdere her.",
        admin_off=(
            "Administrasjon er slått av: tenaren lyttar på ei offentleg adresse utan "
            "administratorpassord (innstillinga `admin_password`)."
        ),
        admin_password="Administratorpassord",
        wrong_password="Feil eller manglande administratorpassord.",
        stats="Indeks",
        stats_articles="Artiklar",
        stats_chunks="Tekstbitar",
        stats_vectors="Vektorar",
        stats_vectors_unusable="Kan ikkje brukast, så søket brukar berre ordsøk (BM25): {problem}",
        stats_languages="Språk",
        stats_model="Modell",
        stats_last_indexed="Sist indeksert",
        stats_outdated="Indeksen er bygd av ein eldre versjon og finn færre ord: indekser på nytt",
        refresh="Oppdater",
        upload="Last opp artiklar (txt, md, html, pdf, jsonl)",
        upload_button="Last opp og indekser",
        accepted="Motteke",
        rejected="Avvist",
        no_files="Vel først ei eller fleire filer.",
        reasons={
            "bad_name": "ugyldig filnamn",
            "bad_type": "filtypen er ikkje støtta",
            "too_large": "fila er for stor",
            "too_many": "for mange filer på ein gong",
            "empty": "fila er tom",
            "unreadable": "fila kan ikkje lesast",
            "duplicate_id": "artikkel-ID-en finst allereie",
            "not_a_folder": "korpuset er éi fil, så det kan ikkje lastast opp",
            "bulk_file": "artikkelen ligg i ei samla JSONL-fil; rett fila i staden",
            "outside": "fila ligg utanfor korpuset",
            "missing": "fila finst ikkje lenger",
        },
        reindex_button="Indekser på nytt",
        indexing="Indekserer",
        reindexed=(
            "Indeksert: {added} lagde til, {changed} endra, {deleted} sletta; "
            "{chunks} tekstbitar i alt ({seconds:.1f} s)."
        ),
        skipped_files="Hoppa over",
        delete_label="Artikkel som skal slettast",
        delete_button="Slett og indekser",
        deleted="Sletta: {name}",
        nothing_selected="Vel først ein artikkel.",
    ),
}


def ui_text(lang: str | None) -> UiText:
    """The strings of UI language `lang`; anything unknown reads as Danish."""
    return TEXTS.get(lang or "da", TEXTS["da"])
