"""Demo leads with pt-BR transcripts, so a first run has something real to look at."""

from datetime import timedelta

from django.utils import timezone

from handoff.services.inboxes import InboxesUnavailable, InboxUnknown, inbox_resolve
from leads import services
from leads.models import Lead
from leads.phones import phone_parse

DEMO_LEADS = [
    {
        "external_id": "atlas-demo-001",
        "instance": "loja-sp",  # wrote to the São Paulo number
        "name": "Mariana Albuquerque",
        "phone": "(11) 98765-4321",
        "email": "mariana.albuquerque@exemplo.com.br",
        "interest": "Energia solar para a loja (conta de luz de R$ 4.800/mês)",
        "qualification_score": 9,
        "history": [
            ("lead", "Oi! Vi o anúncio de vocês no Instagram sobre energia solar."),
            ("bot", "Olá, Mariana! Sou a Atlas, assistente da Nexa Solar. É para residência ou empresa?"),
            ("lead", "Para a minha loja de roupas em Pinheiros. A conta passa de R$ 4.800 por mês."),
            ("bot", "Entendi! O telhado é próprio? E vocês têm interesse em financiamento?"),
            ("lead", "O imóvel é nosso, sim. Financiamento em até 60x seria ótimo."),
            ("bot", "Perfeito. Vou passar você para um consultor que fará o projeto e a simulação."),
        ],
    },
    {
        "external_id": "atlas-demo-002",
        "instance": "loja-rio",  # wrote to the Rio number: answered from it
        "name": "João Pedro Nascimento",
        "phone": "+55 21 99812-3456",
        "email": "joaopedro.n@exemplo.com.br",
        "interest": "Sistema residencial, casa com 4 pessoas",
        "qualification_score": 7,
        "history": [
            ("lead", "Boa tarde, quanto custa um sistema para uma casa?"),
            ("bot", "Boa tarde, João! Depende do consumo. Qual o valor médio da sua conta de luz?"),
            ("lead", "Uns R$ 650. Moramos em 4 aqui em Niterói."),
            ("bot", "Com esse consumo, um sistema de 5 kWp deve atender. Posso pedir para um consultor ligar?"),
            ("lead", "Pode sim, de preferência depois das 18h."),
        ],
    },
    {
        "external_id": "atlas-demo-003",
        "name": "Ana Beatriz Costa",
        "phone": "31 8877-6655",
        "email": "",
        "interest": "Dúvida sobre manutenção de placas",
        "qualification_score": 3,
        "history": [
            ("lead", "Vocês fazem limpeza de placa solar de outra empresa?"),
            ("bot", "Oi, Ana! No momento atendemos apenas sistemas instalados pela Nexa Solar."),
            ("lead", "Ah, tudo bem. Obrigada."),
        ],
    },
    {
        "external_id": "atlas-demo-004",
        "name": "Carlos Eduardo Ribeiro",
        "phone": "+55 41 99123-4567",
        "email": "carlos.ribeiro@agro-exemplo.com.br",
        "interest": "Usina para propriedade rural (irrigação)",
        "qualification_score": 10,
        "history": [
            ("lead", "Preciso de orçamento de usina solar para a fazenda, uso muito bomba de irrigação."),
            ("bot", "Olá, Carlos! Qual a média de consumo em kWh e a distribuidora da região?"),
            ("lead", "Uns 12.000 kWh por mês, Copel."),
            ("bot", "Projeto de grande porte! Um especialista em agronegócio vai falar com você hoje."),
        ],
    },
    {
        "external_id": "atlas-demo-005",
        "name": "Fernanda Lima",
        "phone": "(85) 98456-1122",
        "email": "fernanda.lima@exemplo.com.br",
        "interest": "Comparando orçamentos",
        "qualification_score": 5,
        "history": [
            ("lead", "Já tenho dois orçamentos, quero comparar com o de vocês."),
            ("bot", "Claro, Fernanda! Pode me enviar o consumo médio e a potência orçada?"),
        ],
    },
    {
        "external_id": "atlas-demo-006",
        "name": "Rafael Oliveira",
        "phone": "+55 51 3222-1100",
        "email": "compras@padaria-exemplo.com.br",
        "interest": "Padaria, fornos elétricos",
        "qualification_score": None,
        "history": [
            ("lead", "Bom dia, é da Nexa Solar?"),
            ("bot", "Bom dia! Sim, sou a Atlas, assistente virtual. Como posso ajudar?"),
        ],
    },
]


def demo_leads_load(*, fresh: bool = False) -> int:
    """Upsert the demo leads (safe to run again); returns how many there are.

    `fresh`: Chatwoot is a new sandbox that knows none of them, so they start over and the qualified ones are
    handed off again (their earlier handoffs pointed at the previous sandbox).
    """
    now = timezone.now()
    if fresh:
        demo = Lead.objects.filter(external_id__in=[d["external_id"] for d in DEMO_LEADS])
        for lead in demo:
            lead.handoffs.all().delete()
        demo.update(
            status=Lead.Status.NOVO,
            chatwoot_contact_id=None,
            chatwoot_conversation_id=None,
            chatwoot_inbox_id=None,
            closed_at=None,
        )
    for index, demo in enumerate(DEMO_LEADS):
        data = {key: demo[key] for key in ("external_id", "name", "email", "interest", "qualification_score")}
        inbox_id = _inbox_of(demo.get("instance"))
        if inbox_id:
            data["chatwoot_inbox_id"] = inbox_id
        lead, _ = services.lead_upsert(phone=phone_parse(demo["phone"]), data=data)
        start = now - timedelta(days=index, minutes=len(demo["history"]) * 3)
        history = [
            services.NewMessage(sender=sender, content=content, created_at=start + timedelta(minutes=3 * turn))
            for turn, (sender, content) in enumerate(demo["history"])
        ]
        services.history_add(lead=lead, history=history)
    return len(DEMO_LEADS)


def _inbox_of(instance: str | None) -> int | None:
    """The demo's Evolution instances, resolved as Atlas's `instance` is (None when Chatwoot has no such inbox)."""
    if not instance:
        return None
    try:
        return inbox_resolve(instance=instance).pk
    except (InboxUnknown, InboxesUnavailable):
        return None
