"""The metrics API: the dashboard's figures as JSON, for an API key or a staff session."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from dashboard.selectors import metrics_collect
from dashboard.serializers import MetricsQuerySerializer, MetricsSerializer
from leads.models import ApiScope
from nexa.errors import READ_ERRORS, api_errors


class MetricsView(APIView):
    required_scopes = {"GET": ApiScope.METRICS_READ}

    @extend_schema(
        operation_id="metrics_retrieve",
        parameters=[
            OpenApiParameter("from", str, description="First day, YYYY-MM-DD, in TIME_ZONE (default: 29 days ago)."),
            OpenApiParameter("to", str, description="Last day, YYYY-MM-DD, included (default: today)."),
            OpenApiParameter("team", int, description="Only this Chatwoot team's handoffs and their leads."),
            OpenApiParameter("what_if", int, description="A threshold (1–10) to estimate in `conversion.what_if`."),
        ],
        responses={200: MetricsSerializer, **api_errors(*READ_ERRORS)},
    )
    def get(self, request):
        query = MetricsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        metrics = metrics_collect(query.period(), what_if=query.validated_data.get("what_if"))
        return Response(MetricsSerializer(metrics).data)
