"""Django-q2's task admins, with resubmitting behind the change permission."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from django_q import admin as django_q_admin
from django_q.models import Failure, Success

# django-q2's task admin offers "resubmit" to anyone who can see tasks; re-running a task (a handoff, a webhook) is a
# change, so it needs the change permission like every other action here.


@admin.action(description=_("Resubmit the selected tasks to the queue"), permissions=["change"])
def resubmit_task(modeladmin, request, queryset):
    return django_q_admin.resubmit_task(modeladmin, request, queryset)


class SuccessAdmin(django_q_admin.TaskAdmin):
    actions = (resubmit_task,)


class FailureAdmin(django_q_admin.FailAdmin):
    actions = (resubmit_task,)


for model, model_admin in ((Success, SuccessAdmin), (Failure, FailureAdmin)):
    admin.site.unregister(model)
    admin.site.register(model, model_admin)
