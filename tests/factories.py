"""Factories with realistic pt-BR data."""

import factory
from django.utils import timezone

from leads.models import BotConversation, Lead, Message


class LeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lead

    name = factory.Faker("name", locale="pt_BR")
    # Mobiles in São Paulo, each with a 9th-digit twin: +55 11 97xxx-xxxx.
    phone = factory.Sequence(lambda n: f"+55119{70_000_000 + n}")
    email = factory.Faker("email", locale="pt_BR")
    interest = factory.Faker("random_element", elements=["Energia solar residencial", "Usina para empresa"])
    qualification_score = 5


class BotConversationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BotConversation

    lead = factory.SubFactory(LeadFactory)


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    conversation = factory.SubFactory(BotConversationFactory)
    sender = Message.Sender.LEAD
    content = factory.Faker("sentence", locale="pt_BR")
    created_at = factory.LazyFunction(timezone.now)
