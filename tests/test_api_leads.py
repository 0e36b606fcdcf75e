"""The leads API: upsert by phone, list and filter, read, patch."""

import pytest

from leads.models import Lead
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/leads/"


def lead_post(api, **body):
    return api.post(URL, {"name": "Camila Rocha", "phone": "(11) 98765-4321", **body}, format="json")


def test_post_creates_a_lead_with_its_phone_in_e164(api):
    response = lead_post(api, email="camila@exemplo.com.br", interest="Solar", qualification_score=4)
    assert response.status_code == 201
    body = response.json()
    assert body["phone"] == "+5511987654321"
    assert body["status"] == "novo"
    assert body["handoff"] is None
    assert set(body) >= {"id", "name", "email", "interest", "qualification_score", "created_at", "updated_at"}
    assert Lead.objects.get().phone_identity == "+5511987654321"


def test_post_again_with_the_twin_spelling_updates_the_same_lead(api):
    first = lead_post(api, qualification_score=3).json()
    response = lead_post(api, phone="+55 11 8765-4321", name="Camila R.", qualification_score=5)
    assert response.status_code == 200
    assert response.json()["id"] == first["id"]
    assert response.json()["phone"] == "+5511987654321"  # the stored spelling is kept
    assert Lead.objects.count() == 1
    assert Lead.objects.get().name == "Camila R."


def test_update_keeps_fields_that_were_not_sent(api):
    lead_post(api, email="camila@exemplo.com.br", interest="Solar")
    lead_post(api, qualification_score=6)
    lead = Lead.objects.get()
    assert (lead.email, lead.interest, lead.qualification_score) == ("camila@exemplo.com.br", "Solar", 6)


def test_score_at_the_threshold_qualifies_the_lead(api, settings):
    settings.HANDOFF_SCORE_THRESHOLD = 7
    assert lead_post(api, qualification_score=7).json()["status"] == "qualificado"
    assert lead_post(api, qualification_score=6).json()["status"] == "novo"


def test_a_handed_off_lead_is_not_moved_back_by_a_score_change(api):
    lead = LeadFactory(phone="+5511987654321", status=Lead.Status.HANDED_OFF)
    lead_post(api, qualification_score=2)
    lead.refresh_from_db()
    assert lead.status == Lead.Status.HANDED_OFF


@pytest.mark.parametrize("closed", [Lead.Status.CONVERTIDO, Lead.Status.PERDIDO])
def test_a_replayed_score_changes_nothing_on_a_closed_lead(api, closed):
    from handoff.models import Handoff

    lead = LeadFactory(phone="+5511987654321", status=closed, qualification_score=9)
    Handoff.objects.create(lead=lead, trigger="score", state=Handoff.State.DONE, score=9)
    assert lead_post(api, qualification_score=9).json()["status"] == closed
    assert lead.handoffs.count() == 1


def test_landline_and_mobile_with_same_digits_are_two_leads(api):
    assert lead_post(api, phone="(11) 3456-7890").status_code == 201
    assert lead_post(api, phone="(11) 93456-7890").status_code == 201
    assert Lead.objects.count() == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"qualification_score": 0}, "qualification_score"),
        ({"qualification_score": 11}, "qualification_score"),
        ({"qualification_score": "alto"}, "qualification_score"),
        ({"phone": "12345"}, "phone"),
        ({"phone": ""}, "phone"),
        ({"phone": None}, "phone"),
        ({"phone": ["11987654321"]}, "phone"),
        ({"email": "não-é-email"}, "email"),
        ({"name": "x" * 256}, "name"),
        ({"nome": "Camila"}, "nome"),
        ({"external_id": {"a": 1}}, "external_id"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(api, body, field):
    response = lead_post(api, **body)
    assert response.status_code == 400
    assert field in response.json()
    assert Lead.objects.count() == 0


def test_missing_phone_is_a_400_naming_it(api):
    response = api.post(URL, {"name": "Sem Telefone"}, format="json")
    assert response.status_code == 400
    assert "phone" in response.json()


def test_malformed_json_is_a_400(api):
    response = api.post(URL, data='{"name": "x", ', content_type="application/json")
    assert response.status_code == 400
    assert "detail" in response.json()
    assert Lead.objects.count() == 0


def test_a_json_list_instead_of_an_object_is_a_400(api):
    response = api.post(URL, data="[1, 2]", content_type="application/json")
    assert response.status_code == 400


def test_an_atlas_id_already_used_by_another_phone_is_a_409(api):
    LeadFactory(external_id="atlas-1", phone="+5521998887766")
    response = lead_post(api, external_id="atlas-1")
    assert response.status_code == 409
    assert "external_id" in response.json()
    assert Lead.objects.count() == 1


def test_numeric_atlas_id_is_stored_as_text(api):
    assert lead_post(api, external_id=12345).json()["external_id"] == "12345"


def test_list_filters_by_any_spelling_of_the_phone_including_the_twin(api):
    lead = LeadFactory(phone="+5511987654321")
    LeadFactory()
    for spelling in ("(11) 98765-4321", "+55 11 8765-4321", "5511987654321"):
        response = api.get(URL, {"phone": spelling})
        assert response.status_code == 200
        assert [row["id"] for row in response.json()["results"]] == [str(lead.pk)]


def test_list_filters_by_status(api):
    LeadFactory(status=Lead.Status.CONVERTIDO)
    LeadFactory(status=Lead.Status.NOVO)
    results = api.get(URL, {"status": "convertido"}).json()["results"]
    assert [row["status"] for row in results] == ["convertido"]


@pytest.mark.parametrize(("param", "value"), [("phone", "abc"), ("status", "fechado")])
def test_list_with_a_bad_filter_is_a_400_naming_it(api, param, value):
    response = api.get(URL, {param: value})
    assert response.status_code == 400
    assert param in response.json()


def test_list_is_paginated_by_cursor_newest_first(api):
    LeadFactory.create_batch(5)
    first = api.get(URL, {"page_size": 2}).json()
    assert len(first["results"]) == 2
    second = api.get(first["next"]).json()
    assert len(second["results"]) == 2
    seen = [row["id"] for row in first["results"] + second["results"]]
    assert len(set(seen)) == 4
    created = [row["created_at"] for row in first["results"] + second["results"]]
    assert created == sorted(created, reverse=True)


def test_get_one_lead(api):
    lead = LeadFactory()
    response = api.get(f"{URL}{lead.pk}/")
    assert response.status_code == 200
    assert response.json()["id"] == str(lead.pk)


def test_get_unknown_lead_is_a_404(api):
    assert api.get(f"{URL}00000000-0000-4000-8000-000000000000/").status_code == 404


def test_patch_changes_only_the_fields_sent(api, settings):
    settings.HANDOFF_SCORE_THRESHOLD = 7
    lead = LeadFactory(name="Ana", email="ana@exemplo.com.br", qualification_score=3)
    response = api.patch(f"{URL}{lead.pk}/", {"qualification_score": 8}, format="json")
    assert response.status_code == 200
    lead.refresh_from_db()
    assert (lead.name, lead.email, lead.qualification_score, lead.status) == (
        "Ana",
        "ana@exemplo.com.br",
        8,
        Lead.Status.QUALIFICADO,
    )


def test_patch_to_another_leads_twin_phone_is_a_409(api):
    LeadFactory(phone="+5511987654321")
    lead = LeadFactory()
    response = api.patch(f"{URL}{lead.pk}/", {"phone": "+55 11 8765-4321"}, format="json")
    assert response.status_code == 409
    assert "phone" in response.json()


def test_patch_with_a_bad_score_is_a_400(api):
    lead = LeadFactory(qualification_score=5)
    response = api.patch(f"{URL}{lead.pk}/", {"qualification_score": 12}, format="json")
    assert response.status_code == 400
    assert "qualification_score" in response.json()
    lead.refresh_from_db()
    assert lead.qualification_score == 5


def test_patch_normalises_a_new_phone(api):
    lead = LeadFactory()
    response = api.patch(f"{URL}{lead.pk}/", {"phone": "(21) 99812-3456"}, format="json")
    assert response.json()["phone"] == "+5521998123456"
    lead.refresh_from_db()
    assert lead.phone_identity == "+5521998123456"


@pytest.mark.parametrize("name", [123, True, ["Ana"]])
def test_a_name_that_is_not_text_is_a_400(api, name):
    response = lead_post(api, name=name)
    assert response.status_code == 400
    assert "name" in response.json()


def test_upsert_treats_null_and_empty_as_not_sent(api):
    lead_post(api, email="camila@exemplo.com.br", interest="Solar", qualification_score=6, external_id="a-1")
    response = lead_post(api, name="", email=None, interest="", qualification_score=None, external_id=None)
    assert response.status_code == 200
    lead = Lead.objects.get()
    assert (lead.name, lead.email, lead.interest, lead.qualification_score, lead.external_id) == (
        "Camila Rocha",
        "camila@exemplo.com.br",
        "Solar",
        6,
        "a-1",
    )


def test_patch_can_clear_a_text_field(api):
    lead = LeadFactory(interest="Solar")
    api.patch(f"{URL}{lead.pk}/", {"interest": ""}, format="json")
    lead.refresh_from_db()
    assert lead.interest == ""


def test_patch_with_an_unknown_field_is_a_400_naming_it(api):
    lead = LeadFactory()
    response = api.patch(f"{URL}{lead.pk}/", {"status": "convertido"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"status": ["Campo desconhecido."]}


def test_patch_with_the_twin_spelling_corrects_the_stored_phone(api):
    lead = LeadFactory(phone="+551187654321")
    response = api.patch(f"{URL}{lead.pk}/", {"phone": "(11) 98765-4321"}, format="json")
    assert response.json()["phone"] == "+5511987654321"


def test_clearing_the_score_moves_a_qualified_lead_back_to_novo(api, settings):
    settings.HANDOFF_SCORE_THRESHOLD = 7
    lead = LeadFactory(qualification_score=9, status=Lead.Status.QUALIFICADO)
    response = api.patch(f"{URL}{lead.pk}/", {"qualification_score": None}, format="json")
    assert response.json()["status"] == "novo"


def test_a_non_uuid_lead_path_is_a_json_404(api):
    response = api.get("/api/v1/leads/abc/messages/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Não encontrado."}


def test_too_many_requests_for_one_key_is_a_429(api, settings):
    from django.core.cache import cache

    cache.clear()
    settings.API_RATE_LIMIT = "3/minute"
    statuses = [api.get(URL).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    cache.clear()
