"""Admin form for leads: the phone is normalised and checked against its 9th-digit twin."""

from django import forms
from django.utils.translation import gettext_lazy as _

from leads.models import Lead
from leads.phones import InvalidPhone, phone_parse


class LeadAdminForm(forms.ModelForm):
    class Meta:
        model = Lead
        fields = (
            "name",
            "phone",
            "email",
            "interest",
            "qualification_score",
            "status",
            "external_id",
            "chatwoot_contact_id",
            "chatwoot_conversation_id",
        )

    def clean_phone(self) -> str:
        try:
            phone = phone_parse(self.cleaned_data["phone"])
        except InvalidPhone as err:
            raise forms.ValidationError(str(err)) from err
        twins = Lead.objects.filter(phone_identity=phone.identity).exclude(pk=self.instance.pk)
        if twins.exists():
            raise forms.ValidationError(
                _("Another lead already has this phone (or the same number with/without the 9).")
            )
        return phone.e164
